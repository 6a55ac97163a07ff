<?php
/**
 * Base test case: a fresh site for every test, and helpers to set the gateway up.
 *
 * @package Coinbridge\Tests
 */

use PHPUnit\Framework\TestCase;

/**
 * Shared set-up.
 */
abstract class Coinbridge_Test_Case extends TestCase {

	const COINBRIDGE_URL = 'https://pay.example.net';
	const API_KEY        = 'cb_live_AbCdEfGhIjKlMnOpQrStUvWxYz012345';

	protected function setUp(): void {
		parent::setUp();
		Coinbridge_Test_Env::reset();
		Coinbridge_Test_Payment_Gateways::reset();
		coinbridge_test_remove_object_hooks();
	}

	/**
	 * A gateway with the given settings (merged over sensible ones) and, unless told otherwise,
	 * a stored API key.
	 *
	 * @param array $settings Settings to change.
	 * @param bool  $connected Whether an API key is stored.
	 * @return Coinbridge_Gateway
	 */
	protected function gateway( array $settings = array(), $connected = true ) {
		update_option(
			Coinbridge_Gateway::OPTION_SETTINGS,
			array_merge(
				array(
					'enabled'                => 'yes',
					'title'                  => 'Pay with crypto',
					'description'            => 'Pay with cryptocurrency on a secure payment page.',
					'coinbridge_url'         => self::COINBRIDGE_URL,
					'checkout_mode'          => 'redirect',
					'payment_expiry_minutes' => '30',
					'customer_notes'         => 'no',
					'manual_api_key'         => '',
				),
				$settings
			)
		);
		if ( $connected ) {
			update_option( Coinbridge_Gateway::OPTION_API_KEY, self::API_KEY );
			update_option( Coinbridge_Gateway::OPTION_STORE_ID, 'store_42' );
			update_option( Coinbridge_Gateway::OPTION_CONNECTED, 'yes' );
		}
		return new Coinbridge_Gateway();
	}

	/**
	 * Registers an order for wc_get_order().
	 *
	 * @param array $data Order fields.
	 * @return WC_Order
	 */
	protected function order( array $data = array() ) {
		$order                                          = new WC_Order( $data );
		Coinbridge_Test_Env::$orders[ $order->get_id() ] = $order;
		return $order;
	}

	/**
	 * What Coinbridge answers to POST /v1/payments.
	 *
	 * @param array $overrides Fields to change.
	 * @return array
	 */
	protected function payment_response( array $overrides = array() ) {
		return array_merge(
			array(
				'id'        => '7f1c7f4e-8f2a-4a57-9a51-2c0e6a9b1d3e',
				'ref'       => 'Q2x9RkT4mWn8bVc1zYp0aL',
				'orderId'   => '1001',
				'status'    => 'created',
				'amount'    => '49.90',
				'currency'  => 'EUR',
				'payUrl'    => self::COINBRIDGE_URL . '/pay/Q2x9RkT4mWn8bVc1zYp0aL',
				'expiresAt' => '2030-01-01T00:30:00.000Z',
				'createdAt' => '2030-01-01T00:00:00.000Z',
				'updatedAt' => '2030-01-01T00:00:00.000Z',
				'crypto'    => null,
			),
			$overrides
		);
	}

	/**
	 * Runs a callable that must end in a redirect; returns where to.
	 *
	 * @param callable $run Code under test.
	 * @return string
	 */
	protected function redirect_of( callable $run ) {
		try {
			$run();
		} catch ( Coinbridge_Test_Redirect $redirect ) {
			return $redirect->location;
		}
		$this->fail( 'expected a redirect' );
	}

	/**
	 * Output of a callable.
	 *
	 * @param callable $run Code under test.
	 * @return string
	 */
	protected function output_of( callable $run ) {
		ob_start();
		try {
			$run();
		} finally {
			$output = ob_get_clean();
		}
		return $output;
	}
}
