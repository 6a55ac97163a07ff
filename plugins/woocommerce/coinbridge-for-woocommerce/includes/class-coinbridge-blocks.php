<?php
/**
 * Coinbridge in the Cart and Checkout blocks.
 *
 * @package Coinbridge
 */

use Automattic\WooCommerce\Blocks\Payments\Integrations\AbstractPaymentMethodType;

defined( 'ABSPATH' ) || exit;

/**
 * Registers the payment method on the block-based checkout. Payment itself goes through
 * Coinbridge_Gateway::process_payment, as on the classic checkout.
 */
final class Coinbridge_Blocks_Support extends AbstractPaymentMethodType {

	const SCRIPT_HANDLE = 'coinbridge-blocks';

	/**
	 * Payment method name (matches the gateway id).
	 *
	 * @var string
	 */
	protected $name = 'coinbridge';

	/**
	 * Reads the gateway settings.
	 */
	public function initialize() {
		$settings       = get_option( 'woocommerce_coinbridge_settings', array() );
		$this->settings = is_array( $settings ) ? $settings : array();
	}

	/**
	 * Active when the merchant enabled the gateway and it has a URL and an API key.
	 *
	 * @return bool
	 */
	public function is_active() {
		return 'yes' === $this->get_setting( 'enabled', 'no' )
			&& '' !== trim( (string) $this->get_setting( 'coinbridge_url', '' ) )
			&& 'yes' === get_option( 'coinbridge_connected', 'no' )
			&& '' !== (string) get_option( 'coinbridge_api_key', '' );
	}

	/**
	 * Registers the small front-end script (plain JavaScript, no build step).
	 *
	 * @return string[]
	 */
	public function get_payment_method_script_handles() {
		$plugin_file = defined( 'COINBRIDGE_WC_FILE' ) ? COINBRIDGE_WC_FILE : dirname( __DIR__ ) . '/coinbridge-for-woocommerce.php';
		wp_register_script(
			self::SCRIPT_HANDLE,
			plugins_url( 'assets/js/blocks.js', $plugin_file ),
			array( 'wc-blocks-registry', 'wp-element', 'wp-html-entities', 'wp-i18n' ),
			defined( 'COINBRIDGE_WC_VERSION' ) ? COINBRIDGE_WC_VERSION : false,
			true
		);
		if ( function_exists( 'wp_set_script_translations' ) ) {
			wp_set_script_translations( self::SCRIPT_HANDLE, 'coinbridge', dirname( $plugin_file ) . '/languages' );
		}
		return array( self::SCRIPT_HANDLE );
	}

	/**
	 * What blocks.js reads with getSetting( 'coinbridge_data' ).
	 *
	 * @return array
	 */
	public function get_payment_method_data() {
		return array(
			'title'        => $this->get_setting( 'title', __( 'Pay with crypto', 'coinbridge' ) ),
			'description'  => $this->get_setting( 'description', __( 'Pay with cryptocurrency on a secure payment page.', 'coinbridge' ) ),
			'supports'     => $this->get_supported_features(),
			'checkoutMode' => 'modal' === $this->get_setting( 'checkout_mode', 'redirect' ) ? 'modal' : 'redirect',
		);
	}

	/**
	 * Same features as the gateway.
	 *
	 * @return string[]
	 */
	public function get_supported_features() {
		return array( 'products' );
	}
}
