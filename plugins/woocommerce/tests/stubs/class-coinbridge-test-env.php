<?php
/**
 * Shared state of the WordPress/WooCommerce stand-ins: everything they record, in one place,
 * reset between tests.
 *
 * @package Coinbridge\Tests
 */

/**
 * Recorded calls and fake storage.
 */
final class Coinbridge_Test_Env {

	/** @var array<string, mixed> The options table. */
	public static $options = array();

	/** @var array<string, mixed> Transients. */
	public static $transients = array();

	/** @var array<string, array<int, array<int, array{0: callable, 1: int}>>> Hook => priority => callbacks. */
	public static $hooks = array();

	/** @var array<int, array{url: string, args: array}> Requests given to wp_remote_post, in order. */
	public static $http_requests = array();

	/** @var array<int, array|WP_Error> Fake answers wp_remote_post hands out, first in first out. */
	public static $http_queue = array();

	/** @var array<int, array{message: string, type: string}> wc_add_notice calls. */
	public static $notices = array();

	/** @var array<string, array{src: string, deps: array, ver: mixed, args: mixed}> Registered scripts. */
	public static $scripts = array();

	/** @var array<string, array{domain: string, path: string}> Script translations. */
	public static $script_translations = array();

	/** @var array<int, array{feature: string, file: string, compatible: bool}> FeaturesUtil declarations. */
	public static $feature_declarations = array();

	/** @var bool What current_user_can answers. */
	public static $user_can = true;

	/** @var array<int, string> Capabilities asked about. */
	public static $capability_checks = array();

	/** @var array<int, WC_Order> Orders by id. */
	public static $orders = array();

	/** @var array<int, array{level: string, message: string, context: array}> Logger calls. */
	public static $logs = array();

	/** @var array<string, string> Text domains loaded. */
	public static $textdomains = array();

	/** @var array<string, callable> Activation hooks by plugin file. */
	public static $activation_hooks = array();

	/** @var array<int, string> Nonce actions verified. */
	public static $nonce_checks = array();

	/** @var int Current user. */
	public static $user_id = 1;

	/**
	 * Back to a fresh site.
	 */
	public static function reset() {
		self::$options              = array(
			'home'                          => 'https://shop.example',
			'siteurl'                       => 'https://shop.example',
			'woocommerce_price_num_decimals' => 2,
		);
		self::$transients           = array();
		self::$http_requests        = array();
		self::$http_queue           = array();
		self::$notices              = array();
		self::$scripts              = array();
		self::$script_translations  = array();
		self::$feature_declarations = array();
		self::$user_can             = true;
		self::$capability_checks    = array();
		self::$orders               = array();
		self::$logs                 = array();
		self::$textdomains          = array();
		self::$nonce_checks         = array();
		self::$user_id              = 1;
		$_GET                       = array();
		$_POST                      = array();
		$_REQUEST                   = array();
		// Hooks and activation hooks are kept: the plugin file registers them once, when loaded.
	}

	/**
	 * Queues a fake HTTP answer for the next wp_remote_post.
	 *
	 * @param int          $code Status code.
	 * @param array|string $body Body; arrays are JSON-encoded.
	 * @param array        $headers Response headers.
	 */
	public static function queue_response( $code, $body, $headers = array() ) {
		self::$http_queue[] = array(
			'headers'  => array_merge( array( 'content-type' => 'application/json' ), $headers ),
			'body'     => is_array( $body ) ? json_encode( $body ) : $body,
			'response' => array(
				'code'    => $code,
				'message' => '',
			),
			'cookies'  => array(),
		);
	}

	/**
	 * Queues a transport failure (what WordPress returns when the host cannot be reached).
	 *
	 * @param string $message Error text.
	 */
	public static function queue_network_error( $message = 'cURL error 7: Failed to connect' ) {
		self::$http_queue[] = new WP_Error( 'http_request_failed', $message );
	}

	/**
	 * The last recorded request, or null.
	 *
	 * @return array|null
	 */
	public static function last_request() {
		$count = count( self::$http_requests );
		return $count ? self::$http_requests[ $count - 1 ] : null;
	}
}
