<?php
/**
 * The Coinbridge payment gateway.
 *
 * @package Coinbridge
 */

defined( 'ABSPATH' ) || exit;

/**
 * Creates a Coinbridge payment for each order and sends the shopper to pay it. Coinbridge marks
 * the order paid through the WooCommerce REST API once the crypto gateway has confirmed the
 * payment; this plugin never marks orders paid from the browser.
 */
class Coinbridge_Gateway extends WC_Payment_Gateway {

	const ID = 'coinbridge';

	/** Options kept outside the settings array, so the key never reaches a form. */
	const OPTION_API_KEY      = 'coinbridge_api_key';
	const OPTION_STORE_ID     = 'coinbridge_store_id';
	const OPTION_CONNECTED    = 'coinbridge_connected';
	const OPTION_CLAIM_SECRET = 'coinbridge_claim_secret';
	const OPTION_SETTINGS     = 'woocommerce_coinbridge_settings';

	/** Order meta, written through the order CRUD (HPOS-safe). */
	const META_PAYMENT_ID = '_coinbridge_payment_id';
	const META_REF        = '_coinbridge_ref';
	const META_PAY_URL    = '_coinbridge_pay_url';

	/** Minutes WooCommerce keeps holding stock after a payment expired, for late confirmations. */
	const HOLD_STOCK_GRACE_MINUTES = 15;
	const DEFAULT_EXPIRY_MINUTES   = 30;
	const MIN_EXPIRY_MINUTES       = 5;
	const MAX_EXPIRY_MINUTES       = 1440;

	const HTTP_TIMEOUT    = 15;
	const API_KEY_PATTERN = '/^cb_live_[A-Za-z0-9_-]{16,200}$/';

	/** Coinbridge payment statuses that can no longer be paid. */
	const CLOSED_STATUSES = array( 'expired', 'cancelled', 'failed' );
	/** Coinbridge payment statuses that mean the order is paid already. */
	const PAID_STATUSES = array( 'paid', 'overpaid', 'paid_late' );

	/**
	 * Sets the gateway up and hooks its settings save and thank-you page.
	 */
	public function __construct() {
		$this->id                 = self::ID;
		$this->has_fields         = false;
		$this->method_title       = __( 'Coinbridge', 'coinbridge' );
		$this->method_description = __( 'Accept cryptocurrency through your own Coinbridge. Orders are marked paid once the crypto gateway has confirmed the payment.', 'coinbridge' );
		$this->supports           = array( 'products' );

		$this->init_form_fields();
		$this->init_settings();

		$this->title       = $this->get_option( 'title' );
		$this->description = $this->get_option( 'description' );

		add_action( 'woocommerce_update_options_payment_gateways_' . $this->id, array( $this, 'process_admin_options' ) );
		add_action( 'woocommerce_thankyou_' . $this->id, array( $this, 'thankyou_page' ) );
	}

	/**
	 * The settings form.
	 */
	public function init_form_fields() {
		$this->form_fields = array(
			'enabled'                => array(
				'title'   => __( 'Enable/Disable', 'coinbridge' ),
				'type'    => 'checkbox',
				'label'   => __( 'Enable crypto payments through Coinbridge', 'coinbridge' ),
				'default' => 'no',
			),
			'title'                  => array(
				'title'       => __( 'Title', 'coinbridge' ),
				'type'        => 'text',
				'description' => __( 'The payment method name shoppers see at checkout.', 'coinbridge' ),
				'default'     => __( 'Pay with crypto', 'coinbridge' ),
				'desc_tip'    => true,
			),
			'description'            => array(
				'title'       => __( 'Description', 'coinbridge' ),
				'type'        => 'textarea',
				'description' => __( 'Shown under the payment method at checkout.', 'coinbridge' ),
				'default'     => __( 'Pay with cryptocurrency on a secure payment page.', 'coinbridge' ),
				'desc_tip'    => true,
			),
			'coinbridge_url'         => array(
				'title'       => __( 'Coinbridge URL', 'coinbridge' ),
				'type'        => 'text',
				'description' => __( 'The public address of your Coinbridge, for example https://pay.example.com.', 'coinbridge' ),
				'placeholder' => 'https://pay.example.com',
				'default'     => '',
			),
			'checkout_mode'          => array(
				'title'       => __( 'Checkout mode', 'coinbridge' ),
				'type'        => 'select',
				'description' => __( 'Where shoppers pay after placing their order.', 'coinbridge' ),
				'default'     => 'redirect',
				'options'     => array(
					'redirect' => __( 'Redirect to the Coinbridge payment page', 'coinbridge' ),
					'modal'    => __( 'Open the payment widget on the order confirmation page', 'coinbridge' ),
				),
			),
			'payment_expiry_minutes' => array(
				'title'             => __( 'Payment expiry (minutes)', 'coinbridge' ),
				'type'              => 'number',
				'description'       => __( 'Use the same value as the payment expiry in Coinbridge. WooCommerce\'s "Hold stock" is set to this plus 15 minutes, so unpaid orders are not cancelled while a payment can still arrive.', 'coinbridge' ),
				'default'           => (string) self::DEFAULT_EXPIRY_MINUTES,
				'custom_attributes' => array(
					'min'  => self::MIN_EXPIRY_MINUTES,
					'max'  => self::MAX_EXPIRY_MINUTES,
					'step' => 1,
				),
			),
			'customer_notes'         => array(
				'title'       => __( 'Customer notes', 'coinbridge' ),
				'type'        => 'checkbox',
				'label'       => __( 'Email the shopper a note with their payment link', 'coinbridge' ),
				'description' => __( 'Adds a customer note to the order, which WooCommerce emails, so a shopper who closed the page can still pay.', 'coinbridge' ),
				'default'     => 'no',
			),
			'manual_api_key'         => array(
				'title'             => __( 'API key (manual)', 'coinbridge' ),
				'type'              => 'password',
				'description'       => __( 'Only when "Connect to Coinbridge" cannot work (Coinbridge not on a public https address): paste an API key (cb_live_…) created in Coinbridge. It is stored separately and never shown again.', 'coinbridge' ),
				'default'           => '',
				'custom_attributes' => array( 'autocomplete' => 'off' ),
			),
		);
	}

	// ------------------------------------------------------------------ settings and state

	/**
	 * The settings page of this gateway.
	 *
	 * @return string
	 */
	public static function settings_url() {
		return admin_url( 'admin.php?page=wc-settings&tab=checkout&section=' . self::ID );
	}

	/**
	 * Coinbridge's public URL, without a trailing slash ('' when not set).
	 *
	 * @return string
	 */
	public function get_coinbridge_url() {
		return untrailingslashit( trim( (string) $this->get_option( 'coinbridge_url' ) ) );
	}

	/**
	 * Redirect (the default) or modal.
	 *
	 * @return string
	 */
	public function get_checkout_mode() {
		return 'modal' === $this->get_option( 'checkout_mode' ) ? 'modal' : 'redirect';
	}

	/**
	 * The payment expiry the merchant set, within Coinbridge's limits.
	 *
	 * @return int
	 */
	public function get_payment_expiry_minutes() {
		$minutes = (int) $this->get_option( 'payment_expiry_minutes', (string) self::DEFAULT_EXPIRY_MINUTES );
		if ( $minutes < self::MIN_EXPIRY_MINUTES || $minutes > self::MAX_EXPIRY_MINUTES ) {
			return self::DEFAULT_EXPIRY_MINUTES;
		}
		return $minutes;
	}

	/**
	 * Whether an API key is stored.
	 *
	 * @return bool
	 */
	public function is_connected() {
		return 'yes' === get_option( self::OPTION_CONNECTED, 'no' ) && '' !== $this->get_api_key();
	}

	/**
	 * The stored API key ('' when none).
	 *
	 * @return string
	 */
	protected function get_api_key() {
		return (string) get_option( self::OPTION_API_KEY, '' );
	}

	/**
	 * Whether the text has the shape of a Coinbridge store API key.
	 *
	 * @param string $key Candidate.
	 * @return bool
	 */
	public function is_valid_api_key( $key ) {
		return is_string( $key ) && 1 === preg_match( self::API_KEY_PATTERN, $key );
	}

	/**
	 * Stores the API key (not autoloaded) and the store id.
	 *
	 * @param string $api_key API key.
	 * @param string $store_id Coinbridge store id ('' when the key was pasted).
	 */
	protected function save_connection( $api_key, $store_id ) {
		update_option( self::OPTION_API_KEY, $api_key, false );
		update_option( self::OPTION_STORE_ID, $store_id, false );
		update_option( self::OPTION_CONNECTED, 'yes', false );
	}

	/**
	 * Only offered at checkout once Coinbridge's URL and an API key are known.
	 *
	 * @return bool
	 */
	public function is_available() {
		return parent::is_available() && $this->is_connected() && '' !== $this->get_coinbridge_url();
	}

	/**
	 * Sends the merchant to the settings when enabling an unconnected gateway.
	 *
	 * @return bool
	 */
	public function needs_setup() {
		return ! $this->is_connected() || '' === $this->get_coinbridge_url();
	}

	/**
	 * Validates the Coinbridge URL: an absolute http(s) address; stored without a trailing slash.
	 *
	 * @param string      $key Field key.
	 * @param string|null $value Posted value.
	 * @return string
	 * @throws Exception When the address is not usable.
	 */
	public function validate_coinbridge_url_field( $key, $value ) {
		$value = untrailingslashit( trim( stripslashes( (string) $value ) ) );
		if ( '' === $value ) {
			return '';
		}
		$scheme = strtolower( (string) wp_parse_url( $value, PHP_URL_SCHEME ) );
		$host   = (string) wp_parse_url( $value, PHP_URL_HOST );
		if ( ! in_array( $scheme, array( 'http', 'https' ), true ) || '' === $host || false !== strpos( $value, '?' ) || false !== strpos( $value, '#' ) ) {
			throw new Exception( __( 'Enter the full address of your Coinbridge, starting with https:// (no query string).', 'coinbridge' ) );
		}
		return esc_url_raw( $value );
	}

	/**
	 * Validates the checkout mode.
	 *
	 * @param string      $key Field key.
	 * @param string|null $value Posted value.
	 * @return string
	 */
	public function validate_checkout_mode_field( $key, $value ) {
		return 'modal' === $value ? 'modal' : 'redirect';
	}

	/**
	 * Validates the payment expiry: whole minutes within Coinbridge's limits.
	 *
	 * @param string      $key Field key.
	 * @param string|null $value Posted value.
	 * @return string
	 * @throws Exception When out of range.
	 */
	public function validate_payment_expiry_minutes_field( $key, $value ) {
		$value = trim( (string) $value );
		if ( '' === $value ) {
			return (string) self::DEFAULT_EXPIRY_MINUTES;
		}
		if ( ! ctype_digit( $value ) || (int) $value < self::MIN_EXPIRY_MINUTES || (int) $value > self::MAX_EXPIRY_MINUTES ) {
			throw new Exception(
				sprintf(
					/* translators: 1: smallest allowed number of minutes, 2: largest allowed number of minutes */
					__( 'The payment expiry must be a whole number of minutes from %1$d to %2$d.', 'coinbridge' ),
					self::MIN_EXPIRY_MINUTES,
					self::MAX_EXPIRY_MINUTES
				)
			);
		}
		return (string) (int) $value;
	}

	/**
	 * A pasted API key is stored in its own option and never in the settings: the field always
	 * saves as empty.
	 *
	 * @param string      $key Field key.
	 * @param string|null $value Posted value.
	 * @return string Always ''.
	 * @throws Exception When the text is not a Coinbridge API key.
	 */
	public function validate_manual_api_key_field( $key, $value ) {
		$value = trim( stripslashes( (string) $value ) );
		if ( '' === $value ) {
			return '';
		}
		if ( ! $this->is_valid_api_key( $value ) ) {
			throw new Exception( __( 'That is not a Coinbridge API key (they start with cb_live_). The key was not changed.', 'coinbridge' ) );
		}
		$this->save_connection( $value, '' );
		delete_option( self::OPTION_CLAIM_SECRET );
		return '';
	}

	/**
	 * Saves the settings, then lines "Hold stock" up with the payment expiry.
	 *
	 * @return bool
	 */
	public function process_admin_options() {
		$saved             = parent::process_admin_options();
		$this->title       = $this->get_option( 'title' );
		$this->description = $this->get_option( 'description' );
		$this->align_hold_stock();
		return $saved;
	}

	/**
	 * How long WooCommerce should hold stock for an unpaid order: the payment expiry plus a grace
	 * period for confirmations that arrive late.
	 *
	 * @param int $expiry_minutes Payment expiry in minutes.
	 * @return int
	 */
	public function aligned_hold_stock_minutes( $expiry_minutes ) {
		return max( 1, (int) $expiry_minutes ) + self::HOLD_STOCK_GRACE_MINUTES;
	}

	/**
	 * Sets woocommerce_hold_stock_minutes to the aligned value, only when "Hold stock" is on (a
	 * non-empty, positive value): an empty value means the merchant turned it off.
	 *
	 * @return bool Whether the option changed.
	 */
	public function align_hold_stock() {
		$current = trim( (string) get_option( 'woocommerce_hold_stock_minutes', '' ) );
		if ( '' === $current || (int) $current < 1 ) {
			return false;
		}
		$target = (string) $this->aligned_hold_stock_minutes( $this->get_payment_expiry_minutes() );
		if ( $target === $current ) {
			return false;
		}
		update_option( 'woocommerce_hold_stock_minutes', $target );
		return true;
	}

	// ------------------------------------------------------------------ connecting

	/**
	 * The URL of an admin action link, with its nonce.
	 *
	 * @param string $action One of coinbridge_connect, coinbridge_finish, coinbridge_disconnect.
	 * @return string
	 */
	public function action_url( $action ) {
		return wp_nonce_url( admin_url( 'admin-post.php?action=' . $action ), $action );
	}

	/**
	 * Starts connecting: a new claim secret is stored, and the URL of Coinbridge's connect page
	 * carries only its SHA-256 hash.
	 *
	 * @return string|WP_Error Where to send the merchant.
	 */
	public function start_connect() {
		$base = $this->get_coinbridge_url();
		if ( '' === $base ) {
			return new WP_Error( 'coinbridge_no_url', __( 'Enter your Coinbridge URL and save the settings before connecting.', 'coinbridge' ) );
		}
		$secret = bin2hex( random_bytes( 32 ) );
		update_option( self::OPTION_CLAIM_SECRET, $secret, false );

		return $base . '/woocommerce/connect?store_url=' . rawurlencode( home_url() )
			. '&claim_hash=' . hash( 'sha256', $secret )
			. '&return_url=' . rawurlencode( add_query_arg( 'coinbridge_return', '1', self::settings_url() ) );
	}

	/**
	 * Claims the API key of the connection started with the stored claim secret.
	 *
	 * @return array{status: string, message: string} status is connected, pending or error.
	 */
	public function claim_api_key() {
		$secret = (string) get_option( self::OPTION_CLAIM_SECRET, '' );
		if ( '' === $secret ) {
			if ( $this->is_connected() ) {
				return $this->result( 'connected', __( 'Connected to Coinbridge.', 'coinbridge' ) );
			}
			return $this->result( 'error', __( 'No connection is in progress. Click "Connect to Coinbridge" to start one.', 'coinbridge' ) );
		}
		$base = $this->get_coinbridge_url();
		if ( '' === $base ) {
			return $this->result( 'error', __( 'Enter your Coinbridge URL and save the settings before connecting.', 'coinbridge' ) );
		}

		$response = wp_remote_post(
			$base . '/woocommerce/claim',
			array(
				'headers' => array(
					'Content-Type' => 'application/json',
					'Accept'       => 'application/json',
				),
				'body'    => wp_json_encode(
					array(
						'storeUrl'    => home_url(),
						'claimSecret' => $secret,
					)
				),
				'timeout' => self::HTTP_TIMEOUT,
			)
		);

		if ( is_wp_error( $response ) ) {
			$this->log( 'error', 'Claiming the API key failed: ' . $response->get_error_message() );
			return $this->result(
				'error',
				sprintf(
					/* translators: 1: Coinbridge URL, 2: technical error */
					__( 'Could not reach Coinbridge at %1$s: %2$s', 'coinbridge' ),
					$base,
					$response->get_error_message()
				)
			);
		}

		$code = (int) wp_remote_retrieve_response_code( $response );
		$data = $this->decode_json( wp_remote_retrieve_body( $response ) );

		if ( 202 === $code ) {
			return $this->result( 'pending', __( 'Coinbridge is still finishing the connection. Reload this page in a few seconds.', 'coinbridge' ) );
		}
		if ( 200 === $code ) {
			$api_key  = isset( $data['apiKey'] ) && is_string( $data['apiKey'] ) ? trim( $data['apiKey'] ) : '';
			$store_id = isset( $data['storeId'] ) && ( is_string( $data['storeId'] ) || is_int( $data['storeId'] ) ) ? trim( (string) $data['storeId'] ) : '';
			if ( ! $this->is_valid_api_key( $api_key ) || '' === $store_id ) {
				$this->log( 'error', 'Coinbridge answered the claim without a usable API key or store id.' );
				return $this->result( 'error', __( 'Coinbridge answered without an API key. Click "Connect to Coinbridge" to try again.', 'coinbridge' ) );
			}
			$this->save_connection( $api_key, $store_id );
			delete_option( self::OPTION_CLAIM_SECRET );
			return $this->result(
				'connected',
				sprintf(
					/* translators: %s: Coinbridge store id */
					__( 'Connected to Coinbridge (store %s).', 'coinbridge' ),
					$store_id
				)
			);
		}

		$this->log( 'error', 'Claiming the API key failed with HTTP ' . $code . '.' );
		return $this->result( 'error', $this->error_message( $data, $code ) );
	}

	/**
	 * When WooCommerce's authorization page sends the merchant back (coinbridge_return=1),
	 * claims the key. No nonce can come back through WooCommerce; claiming only fetches this
	 * site's own key with a secret the site holds, so a forged visit gains an attacker nothing.
	 *
	 * @return array{status: string, message: string}|null
	 */
	public function maybe_handle_return() {
		// phpcs:disable WordPress.Security.NonceVerification.Recommended -- see the method comment.
		if ( empty( $_GET['coinbridge_return'] ) || ! current_user_can( 'manage_woocommerce' ) ) {
			return null;
		}
		$success = isset( $_GET['success'] ) ? sanitize_text_field( wp_unslash( $_GET['success'] ) ) : '';
		// phpcs:enable WordPress.Security.NonceVerification.Recommended
		if ( '0' === $success ) {
			return $this->result( 'error', __( 'The connection was declined in WooCommerce. Click "Connect to Coinbridge" to try again.', 'coinbridge' ) );
		}
		return $this->claim_api_key();
	}

	/**
	 * Admin action: starts connecting and sends the merchant to Coinbridge.
	 */
	public function handle_connect_action() {
		$this->guard_admin_action( 'coinbridge_connect' );
		$url = $this->start_connect();
		if ( is_wp_error( $url ) ) {
			$this->flash( $this->result( 'error', $url->get_error_message() ) );
			$this->redirect( self::settings_url() );
			return;
		}
		$this->redirect( $url, true );
	}

	/**
	 * Admin action: "Finish connecting".
	 */
	public function handle_finish_action() {
		$this->guard_admin_action( 'coinbridge_finish' );
		$this->flash( $this->claim_api_key() );
		$this->redirect( self::settings_url() );
	}

	/**
	 * Admin action: forgets the API key and store id. Orders keep their history.
	 */
	public function handle_disconnect_action() {
		$this->guard_admin_action( 'coinbridge_disconnect' );
		delete_option( self::OPTION_API_KEY );
		delete_option( self::OPTION_STORE_ID );
		delete_option( self::OPTION_CONNECTED );
		delete_option( self::OPTION_CLAIM_SECRET );
		$this->flash( $this->result( 'connected', __( 'Disconnected from Coinbridge. The API key was deleted from this site.', 'coinbridge' ) ) );
		$this->redirect( self::settings_url() );
	}

	/**
	 * Capability and nonce check of an admin action; stops the request when either fails.
	 *
	 * @param string $action Nonce action.
	 */
	protected function guard_admin_action( $action ) {
		if ( ! current_user_can( 'manage_woocommerce' ) ) {
			wp_die( esc_html__( 'You are not allowed to manage WooCommerce payments.', 'coinbridge' ), '', array( 'response' => 403 ) );
		}
		check_admin_referer( $action );
	}

	/**
	 * Redirects and ends the request.
	 *
	 * @param string $url Destination.
	 * @param bool   $external True for Coinbridge's own address (outside this site).
	 */
	protected function redirect( $url, $external = false ) {
		if ( $external ) {
			wp_redirect( $url ); // phpcs:ignore WordPress.Security.SafeRedirect.wp_redirect_wp_redirect -- the merchant's own Coinbridge, set in the settings.
		} else {
			wp_safe_redirect( $url );
		}
		exit;
	}

	/**
	 * Keeps a message for the next settings page view of this user.
	 *
	 * @param array{status: string, message: string} $result Message.
	 */
	protected function flash( $result ) {
		set_transient( 'coinbridge_notice_' . get_current_user_id(), $result, 5 * MINUTE_IN_SECONDS );
	}

	/**
	 * Takes the kept message, if any.
	 *
	 * @return array{status: string, message: string}|null
	 */
	protected function take_flash() {
		$key    = 'coinbridge_notice_' . get_current_user_id();
		$result = get_transient( $key );
		if ( false === $result ) {
			return null;
		}
		delete_transient( $key );
		return is_array( $result ) && isset( $result['status'], $result['message'] ) ? $result : null;
	}

	/**
	 * A status and message pair.
	 *
	 * @param string $status connected, pending or error.
	 * @param string $message Human text.
	 * @return array{status: string, message: string}
	 */
	protected function result( $status, $message ) {
		return array(
			'status'  => $status,
			'message' => $message,
		);
	}

	// ------------------------------------------------------------------ settings page

	/**
	 * The settings page: connection status and buttons above the settings form.
	 */
	public function admin_options() {
		$notices = array_filter( array( $this->take_flash(), $this->maybe_handle_return() ) );

		echo '<h2>' . esc_html( $this->get_method_title() ) . '</h2>';
		echo wp_kses_post( wpautop( $this->get_method_description() ) );
		$this->display_errors();
		foreach ( $notices as $notice ) {
			$this->render_notice( $notice );
		}
		$this->render_connection_panel();
		echo '<table class="form-table">' . $this->generate_settings_html( $this->get_form_fields(), false ) . '</table>'; // phpcs:ignore WordPress.Security.EscapeOutput.OutputNotEscaped -- WooCommerce escapes every field.
	}

	/**
	 * One admin notice.
	 *
	 * @param array{status: string, message: string} $notice Message.
	 */
	protected function render_notice( $notice ) {
		$classes = array(
			'connected' => 'notice-success',
			'pending'   => 'notice-warning',
			'error'     => 'notice-error',
		);
		$class   = isset( $classes[ $notice['status'] ] ) ? $classes[ $notice['status'] ] : 'notice-info';
		echo '<div class="notice inline ' . esc_attr( $class ) . '"><p>' . esc_html( $notice['message'] ) . '</p></div>';
	}

	/**
	 * Connection status and the Connect / Finish connecting / Disconnect buttons (links with
	 * nonces: the settings page is already one form, which cannot hold other forms).
	 */
	protected function render_connection_panel() {
		echo '<div class="coinbridge-connection">';
		echo '<h3>' . esc_html__( 'Connection', 'coinbridge' ) . '</h3>';

		$base = $this->get_coinbridge_url();
		if ( $this->is_connected() ) {
			$store_id = (string) get_option( self::OPTION_STORE_ID, '' );
			if ( '' !== $store_id ) {
				/* translators: %s: Coinbridge store id */
				echo '<p>' . esc_html( sprintf( __( 'Connected to Coinbridge as store %s.', 'coinbridge' ), $store_id ) ) . '</p>';
			} else {
				echo '<p>' . esc_html__( 'Connected to Coinbridge with a pasted API key.', 'coinbridge' ) . '</p>';
			}
			echo '<p class="description">' . esc_html__( 'The API key is stored on this site and never shown again.', 'coinbridge' ) . '</p>';
			echo '<p>';
			if ( '' !== $base ) {
				echo '<a class="button" href="' . esc_url( $this->action_url( 'coinbridge_connect' ) ) . '">' . esc_html__( 'Connect again', 'coinbridge' ) . '</a> ';
			}
			echo '<a class="button" href="' . esc_url( $this->action_url( 'coinbridge_disconnect' ) ) . '">' . esc_html__( 'Disconnect', 'coinbridge' ) . '</a>';
			echo '</p>';
		} else {
			echo '<p>' . esc_html__( 'Not connected.', 'coinbridge' ) . '</p>';
			if ( '' === $base ) {
				echo '<p>' . esc_html__( 'Enter your Coinbridge URL below and save, then connect.', 'coinbridge' ) . '</p>';
			} else {
				echo '<p>';
				echo '<a class="button button-primary" href="' . esc_url( $this->action_url( 'coinbridge_connect' ) ) . '">' . esc_html__( 'Connect to Coinbridge', 'coinbridge' ) . '</a> ';
				if ( '' !== (string) get_option( self::OPTION_CLAIM_SECRET, '' ) ) {
					echo '<a class="button" href="' . esc_url( $this->action_url( 'coinbridge_finish' ) ) . '">' . esc_html__( 'Finish connecting', 'coinbridge' ) . '</a>';
				}
				echo '</p>';
			}
			echo '<p class="description">' . esc_html__( 'Connecting needs Coinbridge on a public https address. Otherwise, create an API key in Coinbridge and paste it below.', 'coinbridge' ) . '</p>';
		}
		echo '</div>';
	}

	// ------------------------------------------------------------------ checkout

	/**
	 * Creates (or, on a retry, fetches again) the Coinbridge payment for the order.
	 *
	 * @param int $order_id Order id.
	 * @return array
	 */
	public function process_payment( $order_id ) {
		$order = wc_get_order( $order_id );
		if ( ! $order ) {
			wc_add_notice( esc_html__( 'That order could not be found. Please try again.', 'coinbridge' ), 'error' );
			return array( 'result' => 'failure' );
		}

		$base = $this->get_coinbridge_url();
		if ( '' === $base || ! $this->is_connected() ) {
			$this->log( 'error', 'Checkout attempted while Coinbridge is not connected.' );
			wc_add_notice( esc_html__( 'Crypto payments are not set up yet. Please choose another payment method.', 'coinbridge' ), 'error' );
			return array( 'result' => 'failure' );
		}

		$body = array(
			'orderId'   => (string) $order->get_id(),
			'amount'    => number_format( (float) $order->get_total(), wc_get_price_decimals(), '.', '' ),
			'currency'  => $order->get_currency(),
			'returnUrl' => $this->get_return_url( $order ),
		);
		$email = (string) $order->get_billing_email();
		if ( '' !== $email ) {
			$body['customerEmail'] = $email;
		}
		$body['metadata'] = array(
			'orderKey'    => $order->get_order_key(),
			'orderNumber' => (string) $order->get_order_number(),
		);

		$response = wp_remote_post(
			$base . '/v1/payments',
			array(
				'headers' => array(
					'Authorization'   => 'Bearer ' . $this->get_api_key(),
					'Idempotency-Key' => $order->get_order_key(),
					'Content-Type'    => 'application/json',
					'Accept'          => 'application/json',
				),
				'body'    => wp_json_encode( $body ),
				'timeout' => self::HTTP_TIMEOUT,
			)
		);

		if ( is_wp_error( $response ) ) {
			$this->log( 'error', 'Creating the payment of order ' . $order->get_id() . ' failed: ' . $response->get_error_message() );
			wc_add_notice( esc_html__( 'The crypto payment service could not be reached. Please try again in a moment.', 'coinbridge' ), 'error' );
			return array( 'result' => 'failure' );
		}

		$code = (int) wp_remote_retrieve_response_code( $response );
		$data = $this->decode_json( wp_remote_retrieve_body( $response ) );

		if ( 200 !== $code && 201 !== $code ) {
			$message = $this->error_message( $data, $code );
			$this->log( 'error', 'Coinbridge refused the payment of order ' . $order->get_id() . ' (HTTP ' . $code . '): ' . $message );
			wc_add_notice(
				esc_html(
					sprintf(
						/* translators: %s: reason given by Coinbridge */
						__( 'The crypto payment could not be started: %s', 'coinbridge' ),
						$message
					)
				),
				'error'
			);
			return array( 'result' => 'failure' );
		}

		$ref     = isset( $data['ref'] ) && is_string( $data['ref'] ) ? $data['ref'] : '';
		$pay_url = isset( $data['payUrl'] ) && is_string( $data['payUrl'] ) ? $data['payUrl'] : '';
		$status  = isset( $data['status'] ) && is_string( $data['status'] ) ? $data['status'] : '';
		if ( '' === $ref || ! preg_match( '#^https?://#i', $pay_url ) ) {
			$this->log( 'error', 'Coinbridge answered the payment of order ' . $order->get_id() . ' without a ref or pay URL.' );
			wc_add_notice( esc_html__( 'The crypto payment service gave an unexpected answer. Please try again in a moment.', 'coinbridge' ), 'error' );
			return array( 'result' => 'failure' );
		}

		if ( in_array( $status, self::CLOSED_STATUSES, true ) ) {
			wc_add_notice( esc_html__( 'The crypto payment for this order can no longer be paid. Please place a new order.', 'coinbridge' ), 'error' );
			return array( 'result' => 'failure' );
		}

		$is_new_ref = $order->get_meta( self::META_REF ) !== $ref;
		if ( isset( $data['id'] ) && is_string( $data['id'] ) ) {
			$order->update_meta_data( self::META_PAYMENT_ID, $data['id'] );
		}
		$order->update_meta_data( self::META_REF, $ref );
		$order->update_meta_data( self::META_PAY_URL, $pay_url );
		$order->save();

		if ( in_array( $status, self::PAID_STATUSES, true ) ) {
			// Paid already (a retry after paying): Coinbridge updates the order; show the receipt.
			return array(
				'result'   => 'success',
				'redirect' => $this->get_return_url( $order ),
			);
		}

		/* translators: 1: Coinbridge payment reference, 2: payment page URL */
		$note = sprintf( __( 'Coinbridge payment %1$s created; waiting for the crypto payment (%2$s).', 'coinbridge' ), $ref, $pay_url );
		if ( ! $order->has_status( 'pending' ) ) {
			$order->update_status( 'pending', $note );
		} elseif ( $is_new_ref ) {
			$order->add_order_note( $note );
		}
		if ( $is_new_ref && 'yes' === $this->get_option( 'customer_notes' ) ) {
			/* translators: %s: payment page URL */
			$order->add_order_note( sprintf( __( 'You can pay for your order in crypto here: %s', 'coinbridge' ), $pay_url ), 1 );
		}

		return array(
			'result'   => 'success',
			'redirect' => 'modal' === $this->get_checkout_mode() ? $this->get_return_url( $order ) : $pay_url,
		);
	}

	/**
	 * Thank-you page: the Coinbridge widget (opened at once in modal mode) and a plain link.
	 *
	 * @param int $order_id Order id.
	 */
	public function thankyou_page( $order_id ) {
		$order = wc_get_order( $order_id );
		if ( ! $order || ! $order->needs_payment() ) {
			return;
		}
		$ref  = (string) $order->get_meta( self::META_REF );
		$base = $this->get_coinbridge_url();
		if ( '' === $ref || '' === $base ) {
			return;
		}
		$open = 'modal' === $this->get_checkout_mode();

		echo '<section class="coinbridge-payment">';
		// phpcs:ignore WordPress.WP.EnqueuedResources.NonEnqueuedScript -- the widget comes from the merchant's own Coinbridge.
		echo '<script src="' . esc_url( $base . '/widget.js' ) . '" async></script>';
		echo '<coinbridge-checkout ref="' . esc_attr( $ref ) . '" data-open="' . esc_attr( $open ? 'true' : 'false' ) . '"></coinbridge-checkout>';
		echo '<p class="coinbridge-pay-link"><a href="' . esc_url( $base . '/pay/' . rawurlencode( $ref ) ) . '">' . esc_html__( 'Pay for this order in crypto', 'coinbridge' ) . '</a></p>';
		echo '</section>';
	}

	// ------------------------------------------------------------------ helpers

	/**
	 * Decodes a JSON object ('' or anything else gives an empty array).
	 *
	 * @param string $body Response body.
	 * @return array
	 */
	protected function decode_json( $body ) {
		$data = json_decode( (string) $body, true );
		return is_array( $data ) ? $data : array();
	}

	/**
	 * Coinbridge's error message ({"error": {"code", "message"}}), or a generic one.
	 *
	 * @param array $data Decoded body.
	 * @param int   $code HTTP status.
	 * @return string
	 */
	protected function error_message( $data, $code ) {
		if ( isset( $data['error']['message'] ) && is_string( $data['error']['message'] ) && '' !== trim( $data['error']['message'] ) ) {
			return trim( $data['error']['message'] );
		}
		return sprintf(
			/* translators: %d: HTTP status code */
			__( 'Coinbridge answered with HTTP status %d.', 'coinbridge' ),
			$code
		);
	}

	/**
	 * Writes to the WooCommerce log (source "coinbridge"). Never given the API key.
	 *
	 * @param string $level Log level.
	 * @param string $message Message.
	 */
	protected function log( $level, $message ) {
		if ( function_exists( 'wc_get_logger' ) ) {
			wc_get_logger()->log( $level, $message, array( 'source' => 'coinbridge' ) );
		}
	}
}
