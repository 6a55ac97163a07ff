<?php
/**
 * Plugin Name:          Coinbridge for WooCommerce
 * Plugin URI:           https://github.com/coinbridge/coinbridge
 * Description:          Accept cryptocurrency payments through your own self-hosted Coinbridge.
 * Version:              0.1.0
 * Requires at least:    6.3
 * Requires PHP:         7.4
 * Requires Plugins:     woocommerce
 * Author:               Coinbridge
 * License:              MIT
 * License URI:          https://opensource.org/licenses/MIT
 * Text Domain:          coinbridge
 * Domain Path:          /languages
 * WC requires at least: 8.2
 * WC tested up to:      9.9
 *
 * @package Coinbridge
 */

defined( 'ABSPATH' ) || exit;

define( 'COINBRIDGE_WC_VERSION', '0.1.0' );
define( 'COINBRIDGE_WC_FILE', __FILE__ );
define( 'COINBRIDGE_WC_DIR', __DIR__ );

/**
 * Declares compatibility with High-Performance Order Storage and the Cart/Checkout blocks.
 */
function coinbridge_declare_compatibility() {
	if ( class_exists( '\Automattic\WooCommerce\Utilities\FeaturesUtil' ) ) {
		\Automattic\WooCommerce\Utilities\FeaturesUtil::declare_compatibility( 'custom_order_tables', COINBRIDGE_WC_FILE, true );
		\Automattic\WooCommerce\Utilities\FeaturesUtil::declare_compatibility( 'cart_checkout_blocks', COINBRIDGE_WC_FILE, true );
	}
}
add_action( 'before_woocommerce_init', 'coinbridge_declare_compatibility' );

/**
 * Loads the translations.
 */
function coinbridge_load_textdomain() {
	load_plugin_textdomain( 'coinbridge', false, dirname( plugin_basename( COINBRIDGE_WC_FILE ) ) . '/languages' );
}
add_action( 'init', 'coinbridge_load_textdomain' );

/**
 * Loads the gateway once WooCommerce is there, and wires its hooks.
 */
function coinbridge_init() {
	if ( ! class_exists( 'WC_Payment_Gateway' ) ) {
		return;
	}
	require_once COINBRIDGE_WC_DIR . '/includes/class-coinbridge-gateway.php';

	add_filter( 'woocommerce_payment_gateways', 'coinbridge_add_gateway' );
	add_filter( 'plugin_action_links_' . plugin_basename( COINBRIDGE_WC_FILE ), 'coinbridge_action_links' );
	add_action( 'admin_post_coinbridge_connect', 'coinbridge_handle_connect' );
	add_action( 'admin_post_coinbridge_finish', 'coinbridge_handle_finish' );
	add_action( 'admin_post_coinbridge_disconnect', 'coinbridge_handle_disconnect' );
}
add_action( 'plugins_loaded', 'coinbridge_init', 11 );

/**
 * Adds the gateway to WooCommerce's list.
 *
 * @param array $gateways Gateway class names or instances.
 * @return array
 */
function coinbridge_add_gateway( $gateways ) {
	$gateways[] = 'Coinbridge_Gateway';
	return $gateways;
}

/**
 * A "Settings" link on the Plugins screen.
 *
 * @param array $links Action links.
 * @return array
 */
function coinbridge_action_links( $links ) {
	$settings = '<a href="' . esc_url( Coinbridge_Gateway::settings_url() ) . '">' . esc_html__( 'Settings', 'coinbridge' ) . '</a>';
	array_unshift( $links, $settings );
	return $links;
}

/**
 * Registers the payment method with the Cart/Checkout blocks.
 *
 * @param \Automattic\WooCommerce\Blocks\Payments\PaymentMethodRegistry $payment_method_registry Registry.
 */
function coinbridge_register_blocks_support( $payment_method_registry ) {
	if ( ! class_exists( '\Automattic\WooCommerce\Blocks\Payments\Integrations\AbstractPaymentMethodType' ) ) {
		return;
	}
	require_once COINBRIDGE_WC_DIR . '/includes/class-coinbridge-blocks.php';
	$payment_method_registry->register( new Coinbridge_Blocks_Support() );
}
add_action( 'woocommerce_blocks_payment_method_type_registration', 'coinbridge_register_blocks_support' );

/**
 * The gateway instance WooCommerce uses (or a fresh one when WooCommerce has not made it).
 *
 * @return Coinbridge_Gateway
 */
function coinbridge_gateway() {
	if ( function_exists( 'WC' ) && WC()->payment_gateways() ) {
		$gateways = WC()->payment_gateways()->payment_gateways();
		if ( isset( $gateways[ Coinbridge_Gateway::ID ] ) && $gateways[ Coinbridge_Gateway::ID ] instanceof Coinbridge_Gateway ) {
			return $gateways[ Coinbridge_Gateway::ID ];
		}
	}
	return new Coinbridge_Gateway();
}

/**
 * Admin action: start connecting to Coinbridge.
 */
function coinbridge_handle_connect() {
	coinbridge_gateway()->handle_connect_action();
}

/**
 * Admin action: claim the API key of a connection started earlier.
 */
function coinbridge_handle_finish() {
	coinbridge_gateway()->handle_finish_action();
}

/**
 * Admin action: forget the API key.
 */
function coinbridge_handle_disconnect() {
	coinbridge_gateway()->handle_disconnect_action();
}

/**
 * On activation, lines WooCommerce's "Hold stock" up with the payment expiry.
 */
function coinbridge_activate() {
	if ( ! class_exists( 'WC_Payment_Gateway' ) ) {
		return;
	}
	require_once COINBRIDGE_WC_DIR . '/includes/class-coinbridge-gateway.php';
	$gateway = new Coinbridge_Gateway();
	$gateway->align_hold_stock();
}
register_activation_hook( __FILE__, 'coinbridge_activate' );
