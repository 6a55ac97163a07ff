<?php
/**
 * Loads the stand-ins and the plugin (shared by PHPUnit and bin/process-payment.php).
 *
 * @package Coinbridge\Tests
 */

define( 'COINBRIDGE_TEST_PLUGIN_DIR', dirname( __DIR__ ) . '/coinbridge-for-woocommerce' );

require_once __DIR__ . '/stubs/woocommerce.php';

Coinbridge_Test_Env::reset();
require_once COINBRIDGE_TEST_PLUGIN_DIR . '/coinbridge-for-woocommerce.php';
do_action( 'plugins_loaded' );
