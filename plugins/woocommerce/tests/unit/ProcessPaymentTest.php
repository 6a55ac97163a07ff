<?php
/**
 * process_payment and the thank-you page.
 *
 * @package Coinbridge\Tests
 */

/**
 * The request sent to Coinbridge, and what the shopper and the order get back.
 */
final class ProcessPaymentTest extends Coinbridge_Test_Case {

	public function test_builds_exactly_the_documented_request() {
		$gateway = $this->gateway();
		$order   = $this->order(
			array(
				'id'        => 1001,
				'order_key' => 'wc_order_AbC123dEf456',
				'total'     => '49.9',
				'currency'  => 'EUR',
				'number'    => 'A-1001',
			)
		);
		Coinbridge_Test_Env::queue_response( 201, $this->payment_response() );

		$gateway->process_payment( 1001 );

		$this->assertCount( 1, Coinbridge_Test_Env::$http_requests );
		$request = Coinbridge_Test_Env::last_request();
		$this->assertSame( 'https://pay.example.net/v1/payments', $request['url'] );
		$this->assertSame( 'Bearer ' . self::API_KEY, $request['args']['headers']['Authorization'] );
		$this->assertSame( 'wc_order_AbC123dEf456', $request['args']['headers']['Idempotency-Key'] );
		$this->assertSame( 'application/json', $request['args']['headers']['Content-Type'] );
		$this->assertSame( 15, $request['args']['timeout'] );
		$this->assertSame(
			array(
				'orderId'       => '1001',
				'amount'        => '49.90',
				'currency'      => 'EUR',
				'returnUrl'     => $order->get_checkout_order_received_url(),
				'customerEmail' => 'shopper@example.com',
				'metadata'      => array(
					'orderKey'    => 'wc_order_AbC123dEf456',
					'orderNumber' => 'A-1001',
				),
			),
			json_decode( $request['args']['body'], true )
		);
		// Strings in the JSON, not numbers: "49.90" keeps its exact decimals.
		$this->assertStringContainsString( '"amount":"49.90"', $request['args']['body'] );
		$this->assertStringContainsString( '"orderId":"1001"', $request['args']['body'] );
	}

	/**
	 * @dataProvider amounts
	 */
	public function test_formats_the_amount_with_the_store_decimals_and_no_thousands_separator( $total, $decimals, $expected ) {
		update_option( 'woocommerce_price_num_decimals', $decimals );
		$gateway = $this->gateway();
		$this->order( array( 'total' => $total ) );
		Coinbridge_Test_Env::queue_response( 201, $this->payment_response() );

		$gateway->process_payment( 1001 );

		$body = json_decode( Coinbridge_Test_Env::last_request()['args']['body'], true );
		$this->assertSame( $expected, $body['amount'] );
	}

	public function amounts() {
		return array(
			'two decimals'        => array( '49.9', 2, '49.90' ),
			'thousands'           => array( '1234567.5', 2, '1234567.50' ),
			'float noise'         => array( 0.1 + 0.2, 2, '0.30' ),
			'rounding'            => array( '10.005', 2, '10.01' ),
			'no decimals (JPY)'   => array( '1500', 0, '1500' ),
			'three decimals'      => array( '12.3456', 3, '12.346' ),
		);
	}

	public function test_success_in_redirect_mode_sends_the_shopper_to_the_pay_url_and_stores_the_ref() {
		$gateway = $this->gateway( array( 'checkout_mode' => 'redirect' ) );
		$order   = $this->order( array( 'status' => 'pending' ) );
		Coinbridge_Test_Env::queue_response( 201, $this->payment_response() );

		$result = $gateway->process_payment( 1001 );

		$this->assertSame(
			array(
				'result'   => 'success',
				'redirect' => 'https://pay.example.net/pay/Q2x9RkT4mWn8bVc1zYp0aL',
			),
			$result
		);
		$this->assertSame( 'Q2x9RkT4mWn8bVc1zYp0aL', $order->saved_meta[ Coinbridge_Gateway::META_REF ] );
		$this->assertSame( 'https://pay.example.net/pay/Q2x9RkT4mWn8bVc1zYp0aL', $order->saved_meta[ Coinbridge_Gateway::META_PAY_URL ] );
		$this->assertSame( '7f1c7f4e-8f2a-4a57-9a51-2c0e6a9b1d3e', $order->saved_meta[ Coinbridge_Gateway::META_PAYMENT_ID ] );
		$this->assertSame( 'pending', $order->get_status() );
		$this->assertCount( 1, $order->notes );
		$this->assertStringContainsString( 'Q2x9RkT4mWn8bVc1zYp0aL', $order->notes[0]['note'] );
		$this->assertFalse( $order->notes[0]['customer'] );
		$this->assertSame( array(), Coinbridge_Test_Env::$notices );
	}

	public function test_a_failed_order_paid_again_goes_back_to_pending_with_a_note() {
		$gateway = $this->gateway();
		$order   = $this->order( array( 'status' => 'failed' ) );
		Coinbridge_Test_Env::queue_response( 201, $this->payment_response() );

		$result = $gateway->process_payment( 1001 );

		$this->assertSame( 'success', $result['result'] );
		$this->assertSame( 'pending', $order->get_status() );
		$this->assertSame( 'failed', $order->status_changes[0]['from'] );
		$this->assertStringContainsString( 'Q2x9RkT4mWn8bVc1zYp0aL', $order->status_changes[0]['note'] );
	}

	public function test_modal_mode_returns_the_order_received_url() {
		$gateway = $this->gateway( array( 'checkout_mode' => 'modal' ) );
		$order   = $this->order();
		Coinbridge_Test_Env::queue_response( 201, $this->payment_response() );

		$result = $gateway->process_payment( 1001 );

		$this->assertSame(
			array(
				'result'   => 'success',
				'redirect' => 'https://shop.example/checkout/order-received/1001/?key=wc_order_AbC123dEf456',
			),
			$result
		);
		$this->assertSame( 'Q2x9RkT4mWn8bVc1zYp0aL', $order->saved_meta[ Coinbridge_Gateway::META_REF ] );
	}

	public function test_a_retry_sends_the_same_idempotency_key_and_does_not_repeat_the_note() {
		$gateway = $this->gateway();
		$order   = $this->order();
		Coinbridge_Test_Env::queue_response( 201, $this->payment_response() );
		Coinbridge_Test_Env::queue_response( 200, $this->payment_response( array( 'status' => 'pending' ) ) );

		$first  = $gateway->process_payment( 1001 );
		$second = $gateway->process_payment( 1001 );

		$this->assertSame( $first, $second );
		$this->assertSame(
			Coinbridge_Test_Env::$http_requests[0]['args']['headers']['Idempotency-Key'],
			Coinbridge_Test_Env::$http_requests[1]['args']['headers']['Idempotency-Key']
		);
		$this->assertSame( Coinbridge_Test_Env::$http_requests[0]['args']['body'], Coinbridge_Test_Env::$http_requests[1]['args']['body'] );
		$this->assertCount( 1, $order->notes );
	}

	public function test_coinbridge_refusal_adds_its_message_as_an_error_notice() {
		$gateway = $this->gateway();
		$order   = $this->order();
		Coinbridge_Test_Env::queue_response(
			409,
			array(
				'error' => array(
					'code'    => 'no_gateway_connection',
					'message' => 'This store has no gateway connection yet; connect a gateway first.',
				),
			)
		);

		$result = $gateway->process_payment( 1001 );

		$this->assertSame( array( 'result' => 'failure' ), $result );
		$this->assertCount( 1, Coinbridge_Test_Env::$notices );
		$this->assertSame( 'error', Coinbridge_Test_Env::$notices[0]['type'] );
		$this->assertStringContainsString( 'This store has no gateway connection yet; connect a gateway first.', Coinbridge_Test_Env::$notices[0]['message'] );
		$this->assertSame( array(), $order->saved_meta );
		$this->assertSame( 0, $order->save_count );
	}

	public function test_the_refusal_message_is_escaped_in_the_notice() {
		$gateway = $this->gateway();
		$this->order();
		Coinbridge_Test_Env::queue_response(
			400,
			array(
				'error' => array(
					'code'    => 'invalid_request',
					'message' => 'bad <img src=x onerror=alert(1)>',
				),
			)
		);

		$gateway->process_payment( 1001 );

		$this->assertStringNotContainsString( '<img', Coinbridge_Test_Env::$notices[0]['message'] );
		$this->assertStringContainsString( '&lt;img', Coinbridge_Test_Env::$notices[0]['message'] );
	}

	public function test_a_server_error_without_json_gives_a_notice_with_the_status() {
		$gateway = $this->gateway();
		$this->order();
		Coinbridge_Test_Env::queue_response( 502, '<html>Bad Gateway</html>', array( 'content-type' => 'text/html' ) );

		$result = $gateway->process_payment( 1001 );

		$this->assertSame( array( 'result' => 'failure' ), $result );
		$this->assertStringContainsString( '502', Coinbridge_Test_Env::$notices[0]['message'] );
	}

	public function test_a_network_error_gives_a_generic_notice_and_logs_the_cause_without_the_key() {
		$gateway = $this->gateway();
		$this->order();
		Coinbridge_Test_Env::queue_network_error( 'cURL error 28: Operation timed out' );

		$result = $gateway->process_payment( 1001 );

		$this->assertSame( array( 'result' => 'failure' ), $result );
		$this->assertSame( 'error', Coinbridge_Test_Env::$notices[0]['type'] );
		$this->assertStringContainsString( 'could not be reached', Coinbridge_Test_Env::$notices[0]['message'] );
		$this->assertStringNotContainsString( 'cURL', Coinbridge_Test_Env::$notices[0]['message'] );
		$logged = implode( "\n", array_column( Coinbridge_Test_Env::$logs, 'message' ) );
		$this->assertStringContainsString( 'cURL error 28', $logged );
		$this->assertStringNotContainsString( self::API_KEY, $logged );
	}

	public function test_an_answer_without_a_pay_url_is_a_failure() {
		$gateway = $this->gateway();
		$order   = $this->order();
		Coinbridge_Test_Env::queue_response( 201, array( 'id' => 'x' ) );

		$this->assertSame( array( 'result' => 'failure' ), $gateway->process_payment( 1001 ) );
		$this->assertSame( 'error', Coinbridge_Test_Env::$notices[0]['type'] );
		$this->assertSame( array(), $order->saved_meta );
	}

	public function test_an_expired_payment_cannot_be_paid_again() {
		$gateway = $this->gateway();
		$this->order();
		Coinbridge_Test_Env::queue_response( 200, $this->payment_response( array( 'status' => 'expired' ) ) );

		$this->assertSame( array( 'result' => 'failure' ), $gateway->process_payment( 1001 ) );
		$this->assertStringContainsString( 'can no longer be paid', Coinbridge_Test_Env::$notices[0]['message'] );
	}

	public function test_a_payment_already_paid_goes_to_the_receipt_without_touching_the_status() {
		$gateway = $this->gateway();
		$order   = $this->order( array( 'status' => 'processing' ) );
		Coinbridge_Test_Env::queue_response( 200, $this->payment_response( array( 'status' => 'paid' ) ) );

		$result = $gateway->process_payment( 1001 );

		$this->assertSame( $order->get_checkout_order_received_url(), $result['redirect'] );
		$this->assertSame( 'processing', $order->get_status() );
	}

	public function test_without_an_api_key_nothing_is_sent() {
		$gateway = $this->gateway( array(), false );
		$this->order();

		$this->assertSame( array( 'result' => 'failure' ), $gateway->process_payment( 1001 ) );
		$this->assertSame( array(), Coinbridge_Test_Env::$http_requests );
		$this->assertSame( 'error', Coinbridge_Test_Env::$notices[0]['type'] );
	}

	public function test_an_unknown_order_fails_cleanly() {
		$gateway = $this->gateway();
		$this->assertSame( array( 'result' => 'failure' ), $gateway->process_payment( 999 ) );
		$this->assertSame( array(), Coinbridge_Test_Env::$http_requests );
	}

	public function test_an_order_without_email_omits_customer_email() {
		$gateway = $this->gateway();
		$this->order( array( 'billing_email' => '' ) );
		Coinbridge_Test_Env::queue_response( 201, $this->payment_response() );

		$gateway->process_payment( 1001 );

		$body = json_decode( Coinbridge_Test_Env::last_request()['args']['body'], true );
		$this->assertArrayNotHasKey( 'customerEmail', $body );
	}

	public function test_customer_notes_setting_adds_a_customer_note_with_the_pay_link() {
		$gateway = $this->gateway( array( 'customer_notes' => 'yes' ) );
		$order   = $this->order();
		Coinbridge_Test_Env::queue_response( 201, $this->payment_response() );

		$gateway->process_payment( 1001 );

		$customer_notes = array_values(
			array_filter(
				$order->notes,
				function ( $note ) {
					return $note['customer'];
				}
			)
		);
		$this->assertCount( 1, $customer_notes );
		$this->assertStringContainsString( 'https://pay.example.net/pay/Q2x9RkT4mWn8bVc1zYp0aL', $customer_notes[0]['note'] );
	}

	// ---- thank-you page ------------------------------------------------------------------

	public function test_thank_you_hook_is_registered_for_this_gateway_only() {
		$gateway = $this->gateway();
		$this->assertSame( 10, has_action( 'woocommerce_thankyou_coinbridge', array( $gateway, 'thankyou_page' ) ) );
	}

	public function test_thank_you_page_renders_the_widget_and_a_fallback_link() {
		$gateway = $this->gateway( array( 'checkout_mode' => 'modal' ) );
		$order   = $this->order();
		$order->update_meta_data( Coinbridge_Gateway::META_REF, 'Q2x9RkT4mWn8bVc1zYp0aL' );
		$order->save();

		$html = $this->output_of(
			function () {
				do_action( 'woocommerce_thankyou_coinbridge', 1001 );
			}
		);

		$this->assertStringContainsString( '<script src="https://pay.example.net/widget.js" async></script>', $html );
		$this->assertStringContainsString( '<coinbridge-checkout ref="Q2x9RkT4mWn8bVc1zYp0aL" data-open="true"></coinbridge-checkout>', $html );
		$this->assertStringContainsString( '<a href="https://pay.example.net/pay/Q2x9RkT4mWn8bVc1zYp0aL">', $html );
	}

	public function test_thank_you_widget_does_not_open_by_itself_in_redirect_mode() {
		$gateway = $this->gateway( array( 'checkout_mode' => 'redirect' ) );
		$order   = $this->order();
		$order->update_meta_data( Coinbridge_Gateway::META_REF, 'Q2x9RkT4mWn8bVc1zYp0aL' );

		$html = $this->output_of(
			function () use ( $gateway ) {
				$gateway->thankyou_page( 1001 );
			}
		);

		$this->assertStringContainsString( 'data-open="false"', $html );
	}

	public function test_thank_you_page_escapes_the_ref() {
		$gateway = $this->gateway();
		$order   = $this->order();
		$order->update_meta_data( Coinbridge_Gateway::META_REF, '"><script>alert(1)</script>' );

		$html = $this->output_of(
			function () use ( $gateway ) {
				$gateway->thankyou_page( 1001 );
			}
		);

		$this->assertStringNotContainsString( '<script>alert', $html );
		$this->assertStringContainsString( 'ref="&quot;&gt;&lt;script&gt;', $html );
	}

	public function test_thank_you_page_stays_quiet_for_paid_orders_and_orders_without_a_payment() {
		$gateway = $this->gateway();
		$paid    = $this->order( array( 'status' => 'processing' ) );
		$paid->update_meta_data( Coinbridge_Gateway::META_REF, 'Q2x9RkT4mWn8bVc1zYp0aL' );
		$this->order( array( 'id' => 1002 ) );

		$html = $this->output_of(
			function () use ( $gateway ) {
				$gateway->thankyou_page( 1001 );
				$gateway->thankyou_page( 1002 );
				$gateway->thankyou_page( 4242 );
			}
		);

		$this->assertSame( '', $html );
	}
}
