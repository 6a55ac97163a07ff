<?php
/**
 * Gateway identity, settings form, saving, hold-stock alignment.
 *
 * @package Coinbridge\Tests
 */

/**
 * Settings.
 */
final class SettingsTest extends Coinbridge_Test_Case {

	/**
	 * Posts the settings form as WooCommerce would (field names prefixed, checkboxes absent when off).
	 *
	 * @param Coinbridge_Gateway $gateway Gateway.
	 * @param array              $fields Field => value.
	 */
	private function post_settings( Coinbridge_Gateway $gateway, array $fields ) {
		$post = array();
		foreach ( $fields as $key => $value ) {
			$post[ $gateway->get_field_key( $key ) ] = $value;
		}
		$gateway->set_post_data( $post );
		$gateway->process_admin_options();
	}

	/** @return array Every field posted with its current-style value. */
	private function full_form( array $changes = array() ) {
		return array_merge(
			array(
				'enabled'                => '1',
				'title'                  => 'Pay with crypto',
				'description'            => 'Pay with cryptocurrency on a secure payment page.',
				'coinbridge_url'         => 'https://pay.example.net/',
				'checkout_mode'          => 'redirect',
				'payment_expiry_minutes' => '30',
				'manual_api_key'         => '',
			),
			$changes
		);
	}

	public function test_identity_and_defaults() {
		delete_option( Coinbridge_Gateway::OPTION_SETTINGS );
		$gateway = new Coinbridge_Gateway();

		$this->assertInstanceOf( WC_Payment_Gateway::class, $gateway );
		$this->assertSame( 'coinbridge', $gateway->id );
		$this->assertSame( 'Pay with crypto', $gateway->title );
		$this->assertSame( 'no', $gateway->enabled );
		$this->assertSame( 'redirect', $gateway->get_checkout_mode() );
		$this->assertSame( 30, $gateway->get_payment_expiry_minutes() );
		$this->assertSame( array( 'products' ), $gateway->supports );
	}

	public function test_form_fields() {
		$gateway = $this->gateway();
		$fields  = $gateway->get_form_fields();

		foreach ( array( 'enabled', 'title', 'description', 'coinbridge_url', 'checkout_mode', 'payment_expiry_minutes', 'customer_notes', 'manual_api_key' ) as $key ) {
			$this->assertArrayHasKey( $key, $fields, $key );
		}
		$this->assertSame( 'checkbox', $fields['enabled']['type'] );
		$this->assertSame( 'Pay with crypto', $fields['title']['default'] );
		$this->assertSame( array( 'redirect', 'modal' ), array_keys( $fields['checkout_mode']['options'] ) );
		$this->assertSame( 'redirect', $fields['checkout_mode']['default'] );
		$this->assertSame( '30', $fields['payment_expiry_minutes']['default'] );
		$this->assertSame( 'password', $fields['manual_api_key']['type'] );
		foreach ( array_keys( $fields ) as $key ) {
			$this->assertStringNotContainsStringIgnoringCase( 'secret', $key );
		}
		$this->assertArrayNotHasKey( 'api_key', $fields, 'the API key lives in its own option, not in the form' );
	}

	public function test_settings_save_normalises_the_url() {
		$gateway = $this->gateway();
		$this->post_settings( $gateway, $this->full_form( array( 'coinbridge_url' => ' https://pay.example.net/ ' ) ) );

		$this->assertSame( array(), $gateway->get_errors() );
		$this->assertSame( 'https://pay.example.net', get_option( Coinbridge_Gateway::OPTION_SETTINGS )['coinbridge_url'] );
	}

	public function test_settings_save_refuses_a_url_that_is_not_http() {
		$gateway = $this->gateway();
		$this->post_settings( $gateway, $this->full_form( array( 'coinbridge_url' => 'javascript:alert(1)' ) ) );

		$this->assertCount( 1, $gateway->get_errors() );
		$this->assertSame( self::COINBRIDGE_URL, get_option( Coinbridge_Gateway::OPTION_SETTINGS )['coinbridge_url'], 'the old value stays' );
	}

	public function test_settings_save_refuses_an_expiry_out_of_range() {
		$gateway = $this->gateway();
		$this->post_settings( $gateway, $this->full_form( array( 'payment_expiry_minutes' => '2' ) ) );

		$this->assertCount( 1, $gateway->get_errors() );
		$this->assertSame( '30', get_option( Coinbridge_Gateway::OPTION_SETTINGS )['payment_expiry_minutes'] );
	}

	public function test_a_pasted_api_key_is_stored_in_its_option_and_never_in_the_settings() {
		$gateway = $this->gateway( array(), false );
		$this->post_settings( $gateway, $this->full_form( array( 'manual_api_key' => ' ' . self::API_KEY . ' ' ) ) );

		$this->assertSame( array(), $gateway->get_errors() );
		$this->assertSame( self::API_KEY, get_option( Coinbridge_Gateway::OPTION_API_KEY ) );
		$this->assertSame( 'yes', get_option( Coinbridge_Gateway::OPTION_CONNECTED ) );
		$this->assertSame( '', get_option( Coinbridge_Gateway::OPTION_SETTINGS )['manual_api_key'] );
		$this->assertStringNotContainsString( self::API_KEY, serialize( get_option( Coinbridge_Gateway::OPTION_SETTINGS ) ) );
		$this->assertTrue( $gateway->is_connected() );

		$html = $this->output_of( array( $gateway, 'admin_options' ) );
		$this->assertStringNotContainsString( self::API_KEY, $html );
		$this->assertStringContainsString( 'Connected to Coinbridge with a pasted API key.', $html );
	}

	public function test_a_pasted_text_that_is_not_a_key_is_refused() {
		$gateway = $this->gateway();
		$this->post_settings( $gateway, $this->full_form( array( 'manual_api_key' => 'ck_123456789' ) ) );

		$this->assertCount( 1, $gateway->get_errors() );
		$this->assertSame( self::API_KEY, get_option( Coinbridge_Gateway::OPTION_API_KEY ), 'the stored key is untouched' );
		$this->assertSame( '', get_option( Coinbridge_Gateway::OPTION_SETTINGS )['manual_api_key'] );
		$html = $this->output_of( array( $gateway, 'admin_options' ) );
		$this->assertStringContainsString( 'not a Coinbridge API key', $html );
		$this->assertStringNotContainsString( 'ck_123456789', $html );
	}

	public function test_save_is_hooked_on_the_gateway_update_action() {
		$gateway = $this->gateway();
		$this->assertSame( 10, has_action( 'woocommerce_update_options_payment_gateways_coinbridge', array( $gateway, 'process_admin_options' ) ) );
	}

	public function test_available_only_when_enabled_and_connected() {
		$this->assertTrue( $this->gateway()->is_available() );
		$this->assertFalse( $this->gateway( array( 'enabled' => 'no' ) )->is_available() );
		$this->assertFalse( $this->gateway( array( 'coinbridge_url' => '' ) )->is_available() );
		delete_option( Coinbridge_Gateway::OPTION_API_KEY );
		update_option( Coinbridge_Gateway::OPTION_SETTINGS, array( 'enabled' => 'yes', 'coinbridge_url' => self::COINBRIDGE_URL ) );
		$this->assertFalse( ( new Coinbridge_Gateway() )->is_available() );
		$this->assertTrue( ( new Coinbridge_Gateway() )->needs_setup() );
	}

	// ---- hold stock --------------------------------------------------------------------------

	public function test_aligned_hold_stock_minutes_is_expiry_plus_fifteen() {
		$gateway = $this->gateway();
		$this->assertSame( 45, $gateway->aligned_hold_stock_minutes( 30 ) );
		$this->assertSame( 75, $gateway->aligned_hold_stock_minutes( 60 ) );
		$this->assertSame( 20, $gateway->aligned_hold_stock_minutes( '5' ) );
	}

	public function test_saving_settings_aligns_hold_stock_when_it_is_enabled() {
		update_option( 'woocommerce_hold_stock_minutes', '60' );
		$gateway = $this->gateway();
		$this->post_settings( $gateway, $this->full_form( array( 'payment_expiry_minutes' => '90' ) ) );

		$this->assertSame( '105', get_option( 'woocommerce_hold_stock_minutes' ) );
	}

	public function test_saving_settings_leaves_hold_stock_off_when_it_is_off() {
		update_option( 'woocommerce_hold_stock_minutes', '' );
		$gateway = $this->gateway();
		$this->post_settings( $gateway, $this->full_form() );
		$this->assertSame( '', get_option( 'woocommerce_hold_stock_minutes' ) );

		delete_option( 'woocommerce_hold_stock_minutes' );
		$this->assertFalse( $gateway->align_hold_stock() );
		$this->assertFalse( get_option( 'woocommerce_hold_stock_minutes' ) );
	}

	public function test_activation_aligns_hold_stock_with_the_default_expiry() {
		update_option( 'woocommerce_hold_stock_minutes', '60' );
		delete_option( Coinbridge_Gateway::OPTION_SETTINGS );

		$hooks = Coinbridge_Test_Env::$activation_hooks;
		$this->assertArrayHasKey( realpath( COINBRIDGE_TEST_PLUGIN_DIR . '/coinbridge-for-woocommerce.php' ), array_flip( array_map( 'realpath', array_keys( $hooks ) ) ) );
		call_user_func( reset( $hooks ) );

		$this->assertSame( '45', get_option( 'woocommerce_hold_stock_minutes' ) );
	}
}
