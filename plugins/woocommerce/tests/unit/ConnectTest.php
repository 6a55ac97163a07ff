<?php
/**
 * Connecting to Coinbridge: connect URL, claim exchange, admin actions, return page.
 *
 * @package Coinbridge\Tests
 */

/**
 * The claim flow.
 */
final class ConnectTest extends Coinbridge_Test_Case {

	/**
	 * Query parameters of a URL.
	 *
	 * @param string $url URL.
	 * @return array
	 */
	private function query_of( $url ) {
		parse_str( (string) parse_url( $url, PHP_URL_QUERY ), $query );
		return $query;
	}

	public function test_connect_url_carries_the_store_url_and_the_sha256_of_the_stored_secret() {
		$gateway = $this->gateway( array(), false );

		$url    = $gateway->start_connect();
		$secret = get_option( Coinbridge_Gateway::OPTION_CLAIM_SECRET );

		$this->assertIsString( $url );
		$this->assertMatchesRegularExpression( '/^[0-9a-f]{64}$/', $secret, 'claim secret: 32 random bytes, hex' );
		$this->assertStringStartsWith( 'https://pay.example.net/woocommerce/connect?store_url=https%3A%2F%2Fshop.example&claim_hash=', $url );
		$query = $this->query_of( $url );
		$this->assertSame( 'https://shop.example', $query['store_url'] );
		$this->assertSame( hash( 'sha256', $secret ), $query['claim_hash'] );
		$this->assertStringNotContainsString( $secret, $url, 'the secret itself never leaves the site in a URL' );
		$this->assertSame(
			'https://shop.example/wp-admin/admin.php?page=wc-settings&tab=checkout&section=coinbridge&coinbridge_return=1',
			$query['return_url']
		);
	}

	public function test_every_connect_makes_a_new_secret() {
		$gateway = $this->gateway( array(), false );
		$gateway->start_connect();
		$first = get_option( Coinbridge_Gateway::OPTION_CLAIM_SECRET );
		$gateway->start_connect();
		$this->assertNotSame( $first, get_option( Coinbridge_Gateway::OPTION_CLAIM_SECRET ) );
	}

	public function test_connect_without_a_url_is_refused() {
		$gateway = $this->gateway( array( 'coinbridge_url' => '' ), false );
		$this->assertInstanceOf( WP_Error::class, $gateway->start_connect() );
		$this->assertFalse( get_option( Coinbridge_Gateway::OPTION_CLAIM_SECRET ) );
	}

	public function test_connect_action_checks_nonce_and_capability_then_redirects_to_coinbridge() {
		$gateway                      = $this->gateway( array(), false );
		$_REQUEST['_wpnonce']         = wp_create_nonce( 'coinbridge_connect' );
		$_GET['_wpnonce']             = $_REQUEST['_wpnonce'];

		$location = $this->redirect_of( array( $gateway, 'handle_connect_action' ) );

		$this->assertStringStartsWith( 'https://pay.example.net/woocommerce/connect?', $location );
		$this->assertContains( 'manage_woocommerce', Coinbridge_Test_Env::$capability_checks );
		$this->assertContains( 'coinbridge_connect', Coinbridge_Test_Env::$nonce_checks );
		$this->assertSame( hash( 'sha256', get_option( Coinbridge_Gateway::OPTION_CLAIM_SECRET ) ), $this->query_of( $location )['claim_hash'] );
	}

	public function test_connect_action_without_a_valid_nonce_dies() {
		$gateway              = $this->gateway( array(), false );
		$_REQUEST['_wpnonce'] = 'forged';

		try {
			$gateway->handle_connect_action();
			$this->fail( 'expected wp_die' );
		} catch ( Coinbridge_Test_Die $die ) {
			$this->assertSame( 403, $die->status );
		}
		$this->assertFalse( get_option( Coinbridge_Gateway::OPTION_CLAIM_SECRET ) );
	}

	public function test_connect_action_without_the_capability_dies() {
		$gateway                      = $this->gateway( array(), false );
		$_REQUEST['_wpnonce']         = wp_create_nonce( 'coinbridge_connect' );
		Coinbridge_Test_Env::$user_can = false;

		try {
			$gateway->handle_connect_action();
			$this->fail( 'expected wp_die' );
		} catch ( Coinbridge_Test_Die $die ) {
			$this->assertSame( 403, $die->status );
		}
		$this->assertFalse( get_option( Coinbridge_Gateway::OPTION_CLAIM_SECRET ) );
	}

	public function test_admin_actions_are_hooked_on_admin_post() {
		$this->assertNotFalse( has_action( 'admin_post_coinbridge_connect', 'coinbridge_handle_connect' ) );
		$this->assertNotFalse( has_action( 'admin_post_coinbridge_finish', 'coinbridge_handle_finish' ) );
		$this->assertNotFalse( has_action( 'admin_post_coinbridge_disconnect', 'coinbridge_handle_disconnect' ) );
		$this->assertFalse( has_action( 'admin_post_nopriv_coinbridge_connect' ) );
	}

	public function test_claim_posts_the_store_url_and_secret_then_stores_the_key_and_deletes_the_secret() {
		$gateway = $this->gateway( array(), false );
		$gateway->start_connect();
		$secret = get_option( Coinbridge_Gateway::OPTION_CLAIM_SECRET );
		Coinbridge_Test_Env::queue_response(
			200,
			array(
				'storeId' => 'store_9',
				'apiKey'  => self::API_KEY,
			)
		);

		$result = $gateway->claim_api_key();

		$request = Coinbridge_Test_Env::last_request();
		$this->assertSame( 'https://pay.example.net/woocommerce/claim', $request['url'] );
		$this->assertSame( 'application/json', $request['args']['headers']['Content-Type'] );
		$this->assertSame(
			array(
				'storeUrl'    => 'https://shop.example',
				'claimSecret' => $secret,
			),
			json_decode( $request['args']['body'], true )
		);
		$this->assertSame( 'connected', $result['status'] );
		$this->assertSame( self::API_KEY, get_option( Coinbridge_Gateway::OPTION_API_KEY ) );
		$this->assertSame( 'store_9', get_option( Coinbridge_Gateway::OPTION_STORE_ID ) );
		$this->assertSame( 'yes', get_option( Coinbridge_Gateway::OPTION_CONNECTED ) );
		$this->assertFalse( get_option( Coinbridge_Gateway::OPTION_CLAIM_SECRET ) );
		$this->assertTrue( $gateway->is_connected() );
		$this->assertArrayNotHasKey( 'api_key', get_option( Coinbridge_Gateway::OPTION_SETTINGS ) );
	}

	public function test_claim_pending_keeps_the_secret_and_says_to_reload() {
		$gateway = $this->gateway( array(), false );
		$gateway->start_connect();
		$secret = get_option( Coinbridge_Gateway::OPTION_CLAIM_SECRET );
		Coinbridge_Test_Env::queue_response( 202, array( 'status' => 'pending' ) );

		$result = $gateway->claim_api_key();

		$this->assertSame( 'pending', $result['status'] );
		$this->assertStringContainsString( 'Reload this page in a few seconds', $result['message'] );
		$this->assertSame( $secret, get_option( Coinbridge_Gateway::OPTION_CLAIM_SECRET ) );
		$this->assertFalse( $gateway->is_connected() );
	}

	public function test_claim_error_shows_coinbridge_message() {
		$gateway = $this->gateway( array(), false );
		$gateway->start_connect();
		Coinbridge_Test_Env::queue_response(
			410,
			array(
				'error' => array(
					'code'    => 'claim_expired',
					'message' => 'This connection attempt expired; connect again.',
				),
			)
		);

		$result = $gateway->claim_api_key();

		$this->assertSame( 'error', $result['status'] );
		$this->assertSame( 'This connection attempt expired; connect again.', $result['message'] );
		$this->assertFalse( $gateway->is_connected() );
	}

	public function test_claim_network_error_is_reported() {
		$gateway = $this->gateway( array(), false );
		$gateway->start_connect();
		Coinbridge_Test_Env::queue_network_error( 'cURL error 6: Could not resolve host' );

		$result = $gateway->claim_api_key();

		$this->assertSame( 'error', $result['status'] );
		$this->assertStringContainsString( 'Could not resolve host', $result['message'] );
	}

	public function test_claim_200_without_a_key_does_not_connect() {
		$gateway = $this->gateway( array(), false );
		$gateway->start_connect();
		Coinbridge_Test_Env::queue_response( 200, array( 'storeId' => 'store_9' ) );

		$this->assertSame( 'error', $gateway->claim_api_key()['status'] );
		$this->assertFalse( $gateway->is_connected() );
		$this->assertNotFalse( get_option( Coinbridge_Gateway::OPTION_CLAIM_SECRET ) );
	}

	public function test_claim_without_a_started_connection_sends_nothing() {
		$gateway = $this->gateway( array(), false );
		$this->assertSame( 'error', $gateway->claim_api_key()['status'] );
		$this->assertSame( array(), Coinbridge_Test_Env::$http_requests );
	}

	public function test_return_from_woocommerce_claims_and_shows_connected_without_the_key() {
		$gateway = $this->gateway( array(), false );
		$gateway->start_connect();
		Coinbridge_Test_Env::queue_response(
			200,
			array(
				'storeId' => 'store_9',
				'apiKey'  => self::API_KEY,
			)
		);
		$_GET = array(
			'page'              => 'wc-settings',
			'tab'               => 'checkout',
			'section'           => 'coinbridge',
			'coinbridge_return' => '1',
			'success'           => '1',
			'user_id'           => '1',
		);

		$html = $this->output_of( array( $gateway, 'admin_options' ) );

		$this->assertTrue( $gateway->is_connected() );
		$this->assertStringContainsString( 'Connected to Coinbridge (store store_9).', $html );
		$this->assertStringContainsString( 'Disconnect', $html );
		$this->assertStringNotContainsString( self::API_KEY, $html, 'the API key is never displayed' );
	}

	public function test_return_with_pending_claim_says_still_connecting() {
		$gateway = $this->gateway( array(), false );
		$gateway->start_connect();
		Coinbridge_Test_Env::queue_response( 202, array( 'status' => 'pending' ) );
		$_GET = array( 'coinbridge_return' => '1' );

		$html = $this->output_of( array( $gateway, 'admin_options' ) );

		$this->assertStringContainsString( 'still finishing the connection', $html );
		$this->assertStringContainsString( 'Finish connecting', $html );
	}

	public function test_return_after_the_merchant_declined_does_not_claim() {
		$gateway = $this->gateway( array(), false );
		$gateway->start_connect();
		$_GET = array(
			'coinbridge_return' => '1',
			'success'           => '0',
		);

		$html = $this->output_of( array( $gateway, 'admin_options' ) );

		$this->assertSame( array(), Coinbridge_Test_Env::$http_requests );
		$this->assertStringContainsString( 'declined', $html );
	}

	public function test_finish_action_claims_and_redirects_back_with_a_notice() {
		$gateway = $this->gateway( array(), false );
		$gateway->start_connect();
		Coinbridge_Test_Env::queue_response(
			200,
			array(
				'storeId' => 'store_9',
				'apiKey'  => self::API_KEY,
			)
		);
		$_REQUEST['_wpnonce'] = wp_create_nonce( 'coinbridge_finish' );

		$location = $this->redirect_of( array( $gateway, 'handle_finish_action' ) );

		$this->assertSame( Coinbridge_Gateway::settings_url(), $location );
		$this->assertTrue( $gateway->is_connected() );
		$html = $this->output_of( array( $gateway, 'admin_options' ) );
		$this->assertStringContainsString( 'notice-success', $html );
		$this->assertStringContainsString( 'Connected to Coinbridge (store store_9).', $html );
	}

	public function test_finish_action_requires_its_own_nonce() {
		$gateway = $this->gateway( array(), false );
		$gateway->start_connect();
		$_REQUEST['_wpnonce'] = wp_create_nonce( 'coinbridge_connect' );

		$this->expectException( Coinbridge_Test_Die::class );
		$gateway->handle_finish_action();
	}

	public function test_disconnect_action_deletes_the_key() {
		$gateway              = $this->gateway();
		$_REQUEST['_wpnonce'] = wp_create_nonce( 'coinbridge_disconnect' );

		$this->redirect_of( array( $gateway, 'handle_disconnect_action' ) );

		$this->assertFalse( get_option( Coinbridge_Gateway::OPTION_API_KEY ) );
		$this->assertFalse( get_option( Coinbridge_Gateway::OPTION_STORE_ID ) );
		$this->assertFalse( $gateway->is_connected() );
	}

	public function test_settings_page_buttons_are_nonce_protected_admin_links() {
		$gateway = $this->gateway( array(), false );

		$html = $this->output_of( array( $gateway, 'admin_options' ) );

		$this->assertStringContainsString( 'Connect to Coinbridge', $html );
		$this->assertStringContainsString( 'admin-post.php?action=coinbridge_connect&#038;_wpnonce=' . wp_create_nonce( 'coinbridge_connect' ), $html );
		$this->assertStringContainsString( 'Not connected.', $html );
	}
}
