<?php
/**
 * Small WordPress stand-ins: just what the plugin calls, recording into Coinbridge_Test_Env.
 *
 * @package Coinbridge\Tests
 */

// phpcs:disable

if ( ! defined( 'ABSPATH' ) ) {
	define( 'ABSPATH', sys_get_temp_dir() . '/coinbridge-wp/' );
}

if ( ! defined( 'MINUTE_IN_SECONDS' ) ) {
	define( 'MINUTE_IN_SECONDS', 60 );
}

require_once __DIR__ . '/class-coinbridge-test-env.php';

/**
 * Thrown by wp_die(): WordPress would stop the request there.
 */
class Coinbridge_Test_Die extends RuntimeException {
	/** @var int */
	public $status;

	public function __construct( $message, $status ) {
		parent::__construct( $message );
		$this->status = $status;
	}
}

/**
 * Thrown where the plugin would redirect and exit.
 */
class Coinbridge_Test_Redirect extends RuntimeException {
	/** @var string */
	public $location;

	public function __construct( $location ) {
		parent::__construct( 'redirect to ' . $location );
		$this->location = $location;
	}
}

class WP_Error {
	/** @var array<string, array<int, string>> */
	public $errors = array();
	/** @var array<string, mixed> */
	public $error_data = array();

	public function __construct( $code = '', $message = '', $data = '' ) {
		if ( '' !== $code ) {
			$this->errors[ $code ][] = $message;
			if ( '' !== $data ) {
				$this->error_data[ $code ] = $data;
			}
		}
	}

	public function get_error_code() {
		$codes = array_keys( $this->errors );
		return $codes ? $codes[0] : '';
	}

	public function get_error_message( $code = '' ) {
		$code = '' === $code ? $this->get_error_code() : $code;
		return isset( $this->errors[ $code ][0] ) ? $this->errors[ $code ][0] : '';
	}
}

function is_wp_error( $thing ) {
	return $thing instanceof WP_Error;
}

// ---- i18n and escaping -------------------------------------------------------------------

function __( $text, $domain = 'default' ) {
	return $text;
}

function _e( $text, $domain = 'default' ) {
	echo $text;
}

function esc_html( $text ) {
	return htmlspecialchars( (string) $text, ENT_QUOTES, 'UTF-8' );
}

function esc_attr( $text ) {
	return htmlspecialchars( (string) $text, ENT_QUOTES, 'UTF-8' );
}

function esc_textarea( $text ) {
	return htmlspecialchars( (string) $text, ENT_QUOTES, 'UTF-8' );
}

function esc_html__( $text, $domain = 'default' ) {
	return esc_html( __( $text, $domain ) );
}

function esc_attr__( $text, $domain = 'default' ) {
	return esc_attr( __( $text, $domain ) );
}

function esc_html_e( $text, $domain = 'default' ) {
	echo esc_html__( $text, $domain );
}

function esc_attr_e( $text, $domain = 'default' ) {
	echo esc_attr__( $text, $domain );
}

/** Like WordPress: only http(s) (and a few other) URLs survive; quotes and brackets are encoded. */
function esc_url( $url ) {
	$url = trim( (string) $url );
	if ( '' === $url ) {
		return '';
	}
	if ( ! preg_match( '#^(https?:)?//|^/|^\?#i', $url ) ) {
		return '';
	}
	return str_replace( array( '"', "'", '<', '>', ' ' ), array( '%22', '&#039;', '%3C', '%3E', '%20' ), str_replace( '&', '&#038;', $url ) );
}

function esc_url_raw( $url ) {
	$url = trim( (string) $url );
	if ( '' !== $url && ! preg_match( '#^https?://#i', $url ) ) {
		return '';
	}
	return str_replace( array( '"', "'", '<', '>', ' ' ), array( '%22', '%27', '%3C', '%3E', '%20' ), $url );
}

function wp_kses_post( $text ) {
	return preg_replace( '#<script\b[^>]*>.*?</script>#is', '', (string) $text );
}

function wp_kses( $text, $allowed ) {
	return wp_kses_post( $text );
}

function wp_kses_allowed_html( $context = '' ) {
	return array();
}

function wpautop( $text ) {
	return '' === trim( (string) $text ) ? '' : '<p>' . $text . "</p>\n";
}

function wptexturize( $text ) {
	return $text;
}

function sanitize_text_field( $text ) {
	return trim( preg_replace( '/[\r\n\t ]+/', ' ', strip_tags( (string) $text ) ) );
}

function sanitize_key( $key ) {
	return preg_replace( '/[^a-z0-9_\-]/', '', strtolower( (string) $key ) );
}

function wp_unslash( $value ) {
	return is_array( $value ) ? array_map( 'wp_unslash', $value ) : stripslashes( (string) $value );
}

function absint( $value ) {
	return abs( (int) $value );
}

function untrailingslashit( $value ) {
	return rtrim( (string) $value, '/\\' );
}

function trailingslashit( $value ) {
	return untrailingslashit( $value ) . '/';
}

function wp_parse_url( $url, $component = -1 ) {
	return parse_url( (string) $url, $component );
}

function wp_parse_args( $args, $defaults = array() ) {
	return array_merge( $defaults, is_array( $args ) ? $args : array() );
}

function wp_list_pluck( $list, $field ) {
	$out = array();
	foreach ( $list as $key => $item ) {
		if ( is_array( $item ) && array_key_exists( $field, $item ) ) {
			$out[ $key ] = $item[ $field ];
		}
	}
	return $out;
}

function wp_json_encode( $data, $options = 0, $depth = 512 ) {
	return json_encode( $data, $options, $depth );
}

function disabled( $disabled, $current = true, $echo = true ) {
	$out = (string) $disabled === (string) $current ? ' disabled="disabled"' : '';
	if ( $echo ) {
		echo $out;
	}
	return $out;
}

function selected( $selected, $current = true, $echo = true ) {
	$out = (string) $selected === (string) $current ? ' selected="selected"' : '';
	if ( $echo ) {
		echo $out;
	}
	return $out;
}

function checked( $checked, $current = true, $echo = true ) {
	$out = (string) $checked === (string) $current ? ' checked="checked"' : '';
	if ( $echo ) {
		echo $out;
	}
	return $out;
}

// ---- hooks ---------------------------------------------------------------------------------

function add_filter( $hook, $callback, $priority = 10, $accepted_args = 1 ) {
	Coinbridge_Test_Env::$hooks[ $hook ][ $priority ][] = array( $callback, $accepted_args );
	return true;
}

function add_action( $hook, $callback, $priority = 10, $accepted_args = 1 ) {
	return add_filter( $hook, $callback, $priority, $accepted_args );
}

/** The priority the callback is registered with, or false (like WordPress). */
function has_filter( $hook, $callback = false ) {
	if ( empty( Coinbridge_Test_Env::$hooks[ $hook ] ) ) {
		return false;
	}
	if ( false === $callback ) {
		return true;
	}
	foreach ( Coinbridge_Test_Env::$hooks[ $hook ] as $priority => $callbacks ) {
		foreach ( $callbacks as $registered ) {
			if ( $registered[0] === $callback ) {
				return $priority;
			}
		}
	}
	return false;
}

function has_action( $hook, $callback = false ) {
	return has_filter( $hook, $callback );
}

function apply_filters( $hook, $value, ...$args ) {
	if ( empty( Coinbridge_Test_Env::$hooks[ $hook ] ) ) {
		return $value;
	}
	$by_priority = Coinbridge_Test_Env::$hooks[ $hook ];
	ksort( $by_priority );
	foreach ( $by_priority as $callbacks ) {
		foreach ( $callbacks as $registered ) {
			$all   = array_merge( array( $value ), $args );
			$value = call_user_func_array( $registered[0], array_slice( $all, 0, max( 1, (int) $registered[1] ) ) );
		}
	}
	return $value;
}

function do_action( $hook, ...$args ) {
	if ( empty( Coinbridge_Test_Env::$hooks[ $hook ] ) ) {
		return;
	}
	$by_priority = Coinbridge_Test_Env::$hooks[ $hook ];
	ksort( $by_priority );
	foreach ( $by_priority as $callbacks ) {
		foreach ( $callbacks as $registered ) {
			call_user_func_array( $registered[0], array_slice( $args, 0, (int) $registered[1] ) );
		}
	}
}

/** Removes every callback an object registered (tests throw gateways away between cases). */
function coinbridge_test_remove_object_hooks() {
	foreach ( Coinbridge_Test_Env::$hooks as $hook => $by_priority ) {
		foreach ( $by_priority as $priority => $callbacks ) {
			Coinbridge_Test_Env::$hooks[ $hook ][ $priority ] = array_values(
				array_filter(
					$callbacks,
					function ( $registered ) {
						return ! ( is_array( $registered[0] ) && is_object( $registered[0][0] ) );
					}
				)
			);
		}
	}
}

function register_activation_hook( $file, $callback ) {
	Coinbridge_Test_Env::$activation_hooks[ $file ] = $callback;
}

function load_plugin_textdomain( $domain, $deprecated = false, $path = false ) {
	Coinbridge_Test_Env::$textdomains[ $domain ] = (string) $path;
	return true;
}

function plugin_basename( $file ) {
	return basename( dirname( $file ) ) . '/' . basename( $file );
}

function plugin_dir_path( $file ) {
	return trailingslashit( dirname( $file ) );
}

function plugins_url( $path = '', $plugin = '' ) {
	$base = 'https://shop.example/wp-content/plugins';
	if ( '' !== $plugin ) {
		$base .= '/' . basename( dirname( $plugin ) );
	}
	return $base . '/' . ltrim( $path, '/' );
}

// ---- options and transients ----------------------------------------------------------------

function get_option( $name, $default = false ) {
	return array_key_exists( $name, Coinbridge_Test_Env::$options ) ? Coinbridge_Test_Env::$options[ $name ] : $default;
}

function update_option( $name, $value, $autoload = null ) {
	$old                                  = get_option( $name, null );
	Coinbridge_Test_Env::$options[ $name ] = $value;
	return $old !== $value;
}

function add_option( $name, $value = '', $deprecated = '', $autoload = null ) {
	if ( array_key_exists( $name, Coinbridge_Test_Env::$options ) ) {
		return false;
	}
	Coinbridge_Test_Env::$options[ $name ] = $value;
	return true;
}

function delete_option( $name ) {
	$existed = array_key_exists( $name, Coinbridge_Test_Env::$options );
	unset( Coinbridge_Test_Env::$options[ $name ] );
	return $existed;
}

function set_transient( $name, $value, $expiration = 0 ) {
	Coinbridge_Test_Env::$transients[ $name ] = $value;
	return true;
}

function get_transient( $name ) {
	return array_key_exists( $name, Coinbridge_Test_Env::$transients ) ? Coinbridge_Test_Env::$transients[ $name ] : false;
}

function delete_transient( $name ) {
	$existed = array_key_exists( $name, Coinbridge_Test_Env::$transients );
	unset( Coinbridge_Test_Env::$transients[ $name ] );
	return $existed;
}

// ---- URLs ----------------------------------------------------------------------------------

function home_url( $path = '' ) {
	return untrailingslashit( get_option( 'home' ) ) . ( '' === $path ? '' : '/' . ltrim( $path, '/' ) );
}

function site_url( $path = '' ) {
	return home_url( $path );
}

function admin_url( $path = '' ) {
	return home_url( 'wp-admin/' . ltrim( $path, '/' ) );
}

function add_query_arg( ...$args ) {
	if ( is_array( $args[0] ) ) {
		$params = $args[0];
		$url    = isset( $args[1] ) ? $args[1] : '';
	} else {
		$params = array( $args[0] => $args[1] );
		$url    = isset( $args[2] ) ? $args[2] : '';
	}
	$parts = explode( '?', $url, 2 );
	$query = array();
	if ( isset( $parts[1] ) ) {
		parse_str( $parts[1], $query );
	}
	foreach ( $params as $key => $value ) {
		if ( false === $value ) {
			unset( $query[ $key ] );
		} else {
			$query[ $key ] = $value;
		}
	}
	return $parts[0] . ( $query ? '?' . http_build_query( $query ) : '' );
}

// ---- users, nonces, redirects --------------------------------------------------------------

function current_user_can( $capability, ...$args ) {
	Coinbridge_Test_Env::$capability_checks[] = $capability;
	return Coinbridge_Test_Env::$user_can;
}

function get_current_user_id() {
	return Coinbridge_Test_Env::$user_id;
}

function wp_create_nonce( $action = -1 ) {
	return substr( hash( 'sha256', 'nonce|' . $action . '|' . Coinbridge_Test_Env::$user_id ), 0, 10 );
}

function wp_verify_nonce( $nonce, $action = -1 ) {
	Coinbridge_Test_Env::$nonce_checks[] = (string) $action;
	return is_string( $nonce ) && hash_equals( wp_create_nonce( $action ), $nonce ) ? 1 : false;
}

function wp_nonce_url( $url, $action = -1, $name = '_wpnonce' ) {
	return add_query_arg( $name, wp_create_nonce( $action ), str_replace( '&amp;', '&', $url ) );
}

/** Like WordPress: dies unless the request carries a valid nonce for the action. */
function check_admin_referer( $action = -1, $query_arg = '_wpnonce' ) {
	$nonce = isset( $_REQUEST[ $query_arg ] ) ? $_REQUEST[ $query_arg ] : '';
	$valid = wp_verify_nonce( $nonce, $action );
	if ( ! $valid ) {
		wp_die( 'The link you followed has expired.', 403 );
	}
	return $valid;
}

function wp_die( $message = '', $title = '', $args = array() ) {
	$status = is_int( $title ) ? $title : ( is_array( $args ) && isset( $args['response'] ) ? $args['response'] : 500 );
	if ( is_array( $title ) && isset( $title['response'] ) ) {
		$status = $title['response'];
	}
	throw new Coinbridge_Test_Die( is_string( $message ) ? $message : 'died', $status );
}

function wp_redirect( $location, $status = 302 ) {
	throw new Coinbridge_Test_Redirect( $location );
}

function wp_safe_redirect( $location, $status = 302 ) {
	throw new Coinbridge_Test_Redirect( $location );
}

// ---- scripts -------------------------------------------------------------------------------

function wp_register_script( $handle, $src, $deps = array(), $ver = false, $args = array() ) {
	Coinbridge_Test_Env::$scripts[ $handle ] = array(
		'src'  => $src,
		'deps' => $deps,
		'ver'  => $ver,
		'args' => $args,
	);
	return true;
}

function wp_set_script_translations( $handle, $domain = 'default', $path = '' ) {
	Coinbridge_Test_Env::$script_translations[ $handle ] = array(
		'domain' => $domain,
		'path'   => $path,
	);
	return true;
}

// ---- HTTP ----------------------------------------------------------------------------------

/**
 * Records the request. Answers with the next queued fake response; when COINBRIDGE_LIVE_URL is
 * set and the URL lies under it, performs the request for real instead.
 */
function wp_remote_post( $url, $args = array() ) {
	Coinbridge_Test_Env::$http_requests[] = array(
		'url'  => $url,
		'args' => $args,
	);
	$live = getenv( 'COINBRIDGE_LIVE_URL' );
	if ( is_string( $live ) && '' !== $live ) {
		if ( 0 !== strpos( $url, rtrim( $live, '/' ) . '/' ) ) {
			return new WP_Error( 'http_request_failed', 'test stand-in: live requests go only under ' . $live . ', not to ' . $url );
		}
		return coinbridge_test_live_request( 'POST', $url, $args );
	}
	if ( ! Coinbridge_Test_Env::$http_queue ) {
		return new WP_Error( 'http_request_failed', 'test stand-in: no fake response queued for ' . $url );
	}
	return array_shift( Coinbridge_Test_Env::$http_queue );
}

/**
 * A real HTTP request with file_get_contents, shaped like WordPress's answer.
 */
function coinbridge_test_live_request( $method, $url, $args ) {
	$lines = array();
	foreach ( isset( $args['headers'] ) ? $args['headers'] : array() as $name => $value ) {
		$lines[] = $name . ': ' . $value;
	}
	$context = stream_context_create(
		array(
			'http' => array(
				'method'          => $method,
				'header'          => implode( "\r\n", $lines ),
				'content'         => isset( $args['body'] ) ? (string) $args['body'] : '',
				'timeout'         => isset( $args['timeout'] ) ? (float) $args['timeout'] : 5.0,
				'ignore_errors'   => true,
				'follow_location' => 0,
				'protocol_version' => 1.1,
			),
		)
	);
	$http_response_header = array();
	$error                = null;
	set_error_handler(
		function ( $errno, $errstr ) use ( &$error ) {
			$error = $errstr;
			return true;
		}
	);
	try {
		$body = file_get_contents( $url, false, $context );
	} finally {
		restore_error_handler();
	}
	if ( false === $body || ! $http_response_header ) {
		return new WP_Error( 'http_request_failed', $error ? $error : 'request failed' );
	}
	$code    = 0;
	$headers = array();
	foreach ( $http_response_header as $line ) {
		if ( preg_match( '#^HTTP/\S+\s+(\d{3})#', $line, $m ) ) {
			$code    = (int) $m[1];
			$headers = array(); // After a redirect, keep the last response's headers only.
		} elseif ( false !== strpos( $line, ':' ) ) {
			list( $name, $value )              = explode( ':', $line, 2 );
			$headers[ strtolower( trim( $name ) ) ] = trim( $value );
		}
	}
	return array(
		'headers'  => $headers,
		'body'     => $body,
		'response' => array(
			'code'    => $code,
			'message' => '',
		),
		'cookies'  => array(),
	);
}

function wp_remote_retrieve_response_code( $response ) {
	if ( is_wp_error( $response ) || ! isset( $response['response']['code'] ) ) {
		return '';
	}
	return $response['response']['code'];
}

function wp_remote_retrieve_body( $response ) {
	if ( is_wp_error( $response ) || ! isset( $response['body'] ) ) {
		return '';
	}
	return $response['body'];
}

function wp_remote_retrieve_header( $response, $header ) {
	if ( is_wp_error( $response ) || ! isset( $response['headers'] ) ) {
		return '';
	}
	$header = strtolower( $header );
	return isset( $response['headers'][ $header ] ) ? $response['headers'][ $header ] : '';
}
