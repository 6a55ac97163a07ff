<?php
/**
 * The Cart/Checkout blocks integration class.
 *
 * @package Coinbridge\Tests
 */

/**
 * Coinbridge_Blocks_Support.
 */
final class BlocksTest extends Coinbridge_Test_Case {

	/**
	 * The integration after WooCommerce's initialize().
	 *
	 * @return Coinbridge_Blocks_Support
	 */
	private function blocks() {
		require_once COINBRIDGE_TEST_PLUGIN_DIR . '/includes/class-coinbridge-blocks.php';
		$blocks = new Coinbridge_Blocks_Support();
		$blocks->initialize();
		return $blocks;
	}

	public function test_name_matches_the_gateway_id() {
		$this->gateway();
		$this->assertSame( Coinbridge_Gateway::ID, $this->blocks()->get_name() );
	}

	public function test_registers_its_script_with_the_blocks_dependencies() {
		$this->gateway();
		$handles = $this->blocks()->get_payment_method_script_handles();

		$this->assertSame( array( 'coinbridge-blocks' ), $handles );
		$script = Coinbridge_Test_Env::$scripts['coinbridge-blocks'];
		$this->assertSame( array( 'wc-blocks-registry', 'wp-element', 'wp-html-entities', 'wp-i18n' ), $script['deps'] );
		$this->assertStringEndsWith( '/coinbridge-for-woocommerce/assets/js/blocks.js', $script['src'] );
		$this->assertSame( COINBRIDGE_WC_VERSION, $script['ver'] );
		$this->assertFileExists( COINBRIDGE_TEST_PLUGIN_DIR . '/assets/js/blocks.js' );
		$this->assertSame( 'coinbridge', Coinbridge_Test_Env::$script_translations['coinbridge-blocks']['domain'] );
	}

	public function test_payment_method_data() {
		$this->gateway(
			array(
				'title'         => 'Crypto & co',
				'description'   => 'BTC, ETH, USDT',
				'checkout_mode' => 'modal',
			)
		);

		$this->assertSame(
			array(
				'title'        => 'Crypto & co',
				'description'  => 'BTC, ETH, USDT',
				'supports'     => array( 'products' ),
				'checkoutMode' => 'modal',
			),
			$this->blocks()->get_payment_method_data()
		);
	}

	public function test_defaults_before_the_settings_were_ever_saved() {
		$data = $this->blocks()->get_payment_method_data();
		$this->assertSame( 'Pay with crypto', $data['title'] );
		$this->assertSame( array( 'products' ), $data['supports'] );
		$this->assertFalse( $this->blocks()->is_active() );
	}

	public function test_active_only_when_enabled_and_connected() {
		$this->gateway();
		$this->assertTrue( $this->blocks()->is_active() );

		$this->gateway( array( 'enabled' => 'no' ) );
		$this->assertFalse( $this->blocks()->is_active() );

		Coinbridge_Test_Env::reset();
		$this->gateway( array(), false );
		$this->assertFalse( $this->blocks()->is_active() );
	}

	public function test_blocks_script_registers_the_payment_method_with_the_settings_data() {
		$source = file_get_contents( COINBRIDGE_TEST_PLUGIN_DIR . '/assets/js/blocks.js' );
		$this->assertStringContainsString( "registerPaymentMethod(", $source );
		$this->assertStringContainsString( "getSetting( 'coinbridge_data'", $source );
		$this->assertStringContainsString( "name: 'coinbridge'", $source );
		$this->assertStringContainsString( 'canMakePayment', $source );
	}
}
