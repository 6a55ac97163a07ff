<?php
/**
 * uninstall.php.
 *
 * @package Coinbridge\Tests
 */

/**
 * Clean uninstall.
 */
final class UninstallTest extends Coinbridge_Test_Case {

	public function test_deletes_the_plugin_options_and_nothing_else() {
		$gateway = $this->gateway();
		$gateway->start_connect();
		update_option( 'woocommerce_hold_stock_minutes', '45' );
		update_option( 'woocommerce_bacs_settings', array( 'enabled' => 'yes' ) );
		$order = $this->order();
		$order->update_meta_data( Coinbridge_Gateway::META_REF, 'Q2x9RkT4mWn8bVc1zYp0aL' );
		$order->save();

		if ( ! defined( 'WP_UNINSTALL_PLUGIN' ) ) {
			define( 'WP_UNINSTALL_PLUGIN', 'coinbridge-for-woocommerce/coinbridge-for-woocommerce.php' );
		}
		include COINBRIDGE_TEST_PLUGIN_DIR . '/uninstall.php';

		foreach ( array(
			Coinbridge_Gateway::OPTION_SETTINGS,
			Coinbridge_Gateway::OPTION_API_KEY,
			Coinbridge_Gateway::OPTION_STORE_ID,
			Coinbridge_Gateway::OPTION_CONNECTED,
			Coinbridge_Gateway::OPTION_CLAIM_SECRET,
		) as $option ) {
			$this->assertFalse( get_option( $option ), $option );
		}
		$this->assertSame( array(), preg_grep( '/coinbridge/', array_keys( Coinbridge_Test_Env::$options ) ) );
		$this->assertSame( '45', get_option( 'woocommerce_hold_stock_minutes' ) );
		$this->assertSame( array( 'enabled' => 'yes' ), get_option( 'woocommerce_bacs_settings' ) );
		$this->assertSame( 'Q2x9RkT4mWn8bVc1zYp0aL', $order->saved_meta[ Coinbridge_Gateway::META_REF ], 'orders keep their history' );
	}

	public function test_does_nothing_unless_wordpress_is_uninstalling() {
		$script = 'require ' . var_export( __DIR__ . '/../stubs/woocommerce.php', true ) . ';'
			. 'Coinbridge_Test_Env::reset();'
			. 'update_option("coinbridge_api_key", "cb_live_x");'
			. 'register_shutdown_function(function () { echo get_option("coinbridge_api_key"); });'
			. 'include ' . var_export( COINBRIDGE_TEST_PLUGIN_DIR . '/uninstall.php', true ) . ';'
			. 'echo "-not-stopped";';
		$output = shell_exec( escapeshellarg( PHP_BINARY ) . ' -r ' . escapeshellarg( $script ) . ' 2>&1' );

		$this->assertSame( 'cb_live_x', $output );
	}
}
