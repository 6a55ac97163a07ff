<?php
/**
 * Runs the plugin's real process_payment() against a running Coinbridge, over real HTTP.
 *
 * Usage: php process-payment.php <coinbridge_url> <api_key> <order_json> [redirect|modal]
 *   order_json: {"id": 1001, "order_key": "wc_order_…", "total": "49.90", "currency": "EUR",
 *                "email": "shopper@example.com", "number": "1001"}
 *   optional keys: "status" (default "pending"), "store_url" (default https://shop.example,
 *   the site's home_url, which the return URL is built from), "decimals" (default 2).
 *
 * Prints one JSON object: {"result", "redirect", "notices": [{message, type}], "meta": {…},
 * "orderStatus", "notes": [...], "logs": [...], "request": {url, headers (Authorization
 * redacted), body}}. Exit code 0 when process_payment ran (whatever its result), 2 on bad usage.
 *
 * @package Coinbridge\Tests
 */

// phpcs:disable

if ( $argc < 4 || $argc > 5 ) {
	fwrite( STDERR, "usage: php process-payment.php <coinbridge_url> <api_key> <order_json> [redirect|modal]\n" );
	exit( 2 );
}
list( , $coinbridge_url, $api_key, $order_json ) = $argv;
$mode = isset( $argv[4] ) ? $argv[4] : 'redirect';
if ( ! preg_match( '#^https?://#', $coinbridge_url ) || ! in_array( $mode, array( 'redirect', 'modal' ), true ) ) {
	fwrite( STDERR, "coinbridge_url must be an http(s) URL and the mode redirect or modal\n" );
	exit( 2 );
}
$input = json_decode( $order_json, true );
if ( ! is_array( $input ) || ! isset( $input['id'], $input['order_key'], $input['total'], $input['currency'] ) ) {
	fwrite( STDERR, "order_json must be a JSON object with at least id, order_key, total and currency\n" );
	exit( 2 );
}

// wp_remote_post performs real requests under this URL (and refuses any other).
putenv( 'COINBRIDGE_LIVE_URL=' . rtrim( $coinbridge_url, '/' ) );

require dirname( __DIR__ ) . '/load-plugin.php';

if ( isset( $input['store_url'] ) ) {
	update_option( 'home', (string) $input['store_url'] );
}
if ( isset( $input['decimals'] ) ) {
	update_option( 'woocommerce_price_num_decimals', (int) $input['decimals'] );
}
update_option(
	Coinbridge_Gateway::OPTION_SETTINGS,
	array(
		'enabled'        => 'yes',
		'coinbridge_url' => $coinbridge_url,
		'checkout_mode'  => $mode,
	)
);
update_option( Coinbridge_Gateway::OPTION_API_KEY, $api_key );
update_option( Coinbridge_Gateway::OPTION_CONNECTED, 'yes' );

$order = new WC_Order(
	array(
		'id'            => (int) $input['id'],
		'order_key'     => (string) $input['order_key'],
		'total'         => (string) $input['total'],
		'currency'      => (string) $input['currency'],
		'billing_email' => isset( $input['email'] ) ? (string) $input['email'] : '',
		'number'        => isset( $input['number'] ) ? (string) $input['number'] : (string) $input['id'],
		'status'        => isset( $input['status'] ) ? (string) $input['status'] : 'pending',
	)
);
Coinbridge_Test_Env::$orders[ $order->get_id() ] = $order;

$gateway = new Coinbridge_Gateway();
$result  = $gateway->process_payment( $order->get_id() );

$request = Coinbridge_Test_Env::last_request();
if ( $request ) {
	$headers = $request['args']['headers'];
	if ( isset( $headers['Authorization'] ) ) {
		$headers['Authorization'] = 'Bearer [redacted]';
	}
	$request = array(
		'url'     => $request['url'],
		'headers' => $headers,
		'body'    => json_decode( $request['args']['body'], true ),
	);
}

echo json_encode(
	array(
		'result'      => isset( $result['result'] ) ? $result['result'] : null,
		'redirect'    => isset( $result['redirect'] ) ? $result['redirect'] : null,
		'notices'     => Coinbridge_Test_Env::$notices,
		'meta'        => (object) $order->saved_meta,
		'orderStatus' => $order->get_status(),
		'notes'       => array_column( $order->notes, 'note' ),
		'logs'        => array_column( Coinbridge_Test_Env::$logs, 'message' ),
		'request'     => $request,
	),
	JSON_UNESCAPED_SLASHES | JSON_PRETTY_PRINT
) . "\n";
exit( 0 );
