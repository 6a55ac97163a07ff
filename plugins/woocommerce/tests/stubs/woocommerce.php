<?php
/**
 * Small WooCommerce stand-ins. WC_Settings_API follows WooCommerce's own code closely (settings
 * storage, defaults, validate_{key}_field lookup, errors), since the plugin relies on it.
 *
 * @package Coinbridge\Tests
 */

// phpcs:disable

require_once __DIR__ . '/wordpress.php';

abstract class WC_Settings_API {
	public $plugin_id   = 'woocommerce_';
	public $id          = '';
	public $errors      = array();
	public $settings    = array();
	public $form_fields = array();
	protected $data     = array();

	public function get_form_fields() {
		return apply_filters( 'woocommerce_settings_api_form_fields_' . $this->id, array_map( array( $this, 'set_defaults' ), $this->form_fields ) );
	}

	protected function set_defaults( $field ) {
		if ( ! isset( $field['default'] ) ) {
			$field['default'] = '';
		}
		return $field;
	}

	public function admin_options() {
		echo '<table class="form-table">' . $this->generate_settings_html( $this->get_form_fields(), false ) . '</table>';
	}

	public function init_form_fields() {}

	public function get_option_key() {
		return $this->plugin_id . $this->id . '_settings';
	}

	public function get_field_type( $field ) {
		return empty( $field['type'] ) ? 'text' : $field['type'];
	}

	public function get_field_default( $field ) {
		return empty( $field['default'] ) ? '' : $field['default'];
	}

	public function get_field_value( $key, $field, $post_data = array() ) {
		$type      = $this->get_field_type( $field );
		$field_key = $this->get_field_key( $key );
		$post_data = empty( $post_data ) ? $_POST : $post_data;
		$value     = isset( $post_data[ $field_key ] ) ? $post_data[ $field_key ] : null;
		if ( isset( $field['sanitize_callback'] ) && is_callable( $field['sanitize_callback'] ) ) {
			return call_user_func( $field['sanitize_callback'], $value );
		}
		if ( is_callable( array( $this, 'validate_' . $key . '_field' ) ) ) {
			return $this->{'validate_' . $key . '_field'}( $key, $value );
		}
		if ( is_callable( array( $this, 'validate_' . $type . '_field' ) ) ) {
			return $this->{'validate_' . $type . '_field'}( $key, $value );
		}
		return $this->validate_text_field( $key, $value );
	}

	public function set_post_data( $data = array() ) {
		$this->data = $data;
	}

	public function get_post_data() {
		if ( ! empty( $this->data ) && is_array( $this->data ) ) {
			return $this->data;
		}
		return $_POST;
	}

	public function update_option( $key, $value = '' ) {
		if ( empty( $this->settings ) ) {
			$this->init_settings();
		}
		$this->settings[ $key ] = $value;
		return update_option( $this->get_option_key(), apply_filters( 'woocommerce_settings_api_sanitized_fields_' . $this->id, $this->settings ), 'yes' );
	}

	public function process_admin_options() {
		$this->init_settings();
		$post_data = $this->get_post_data();
		foreach ( $this->get_form_fields() as $key => $field ) {
			if ( 'title' !== $this->get_field_type( $field ) ) {
				try {
					$this->settings[ $key ] = $this->get_field_value( $key, $field, $post_data );
				} catch ( Exception $e ) {
					$this->add_error( $e->getMessage() );
				}
			}
		}
		$option_key = $this->get_option_key();
		do_action( 'woocommerce_update_option', array( 'id' => $option_key ) );
		return update_option( $option_key, apply_filters( 'woocommerce_settings_api_sanitized_fields_' . $this->id, $this->settings ), 'yes' );
	}

	public function add_error( $error ) {
		$this->errors[] = $error;
	}

	public function get_errors() {
		return $this->errors;
	}

	public function display_errors() {
		if ( $this->get_errors() ) {
			echo '<div id="woocommerce_errors" class="error notice is-dismissible">';
			foreach ( $this->get_errors() as $error ) {
				echo '<p>' . wp_kses_post( $error ) . '</p>';
			}
			echo '</div>';
		}
	}

	public function init_settings() {
		$this->settings = get_option( $this->get_option_key(), null );
		if ( ! is_array( $this->settings ) ) {
			$form_fields    = $this->get_form_fields();
			$this->settings = array_merge( array_fill_keys( array_keys( $form_fields ), '' ), wp_list_pluck( $form_fields, 'default' ) );
		}
	}

	public function get_option( $key, $empty_value = null ) {
		if ( empty( $this->settings ) ) {
			$this->init_settings();
		}
		if ( ! isset( $this->settings[ $key ] ) ) {
			$form_fields            = $this->get_form_fields();
			$this->settings[ $key ] = isset( $form_fields[ $key ] ) ? $this->get_field_default( $form_fields[ $key ] ) : '';
		}
		if ( ! is_null( $empty_value ) && '' === $this->settings[ $key ] ) {
			$this->settings[ $key ] = $empty_value;
		}
		return $this->settings[ $key ];
	}

	public function get_field_key( $key ) {
		return $this->plugin_id . $this->id . '_' . $key;
	}

	/** Simplified: one row per field with its name, type and (escaped) current value. */
	public function generate_settings_html( $form_fields = array(), $echo = true ) {
		if ( empty( $form_fields ) ) {
			$form_fields = $this->get_form_fields();
		}
		$html = '';
		foreach ( $form_fields as $key => $field ) {
			$type  = $this->get_field_type( $field );
			$html .= '<tr><th>' . wp_kses_post( isset( $field['title'] ) ? $field['title'] : '' ) . '</th><td><input type="' . esc_attr( $type )
				. '" name="' . esc_attr( $this->get_field_key( $key ) ) . '" value="' . esc_attr( is_array( $this->get_option( $key ) ) ? '' : $this->get_option( $key ) ) . '" />'
				. ( empty( $field['description'] ) ? '' : '<p class="description">' . wp_kses_post( $field['description'] ) . '</p>' ) . '</td></tr>';
		}
		if ( $echo ) {
			echo $html;
		}
		return $html;
	}

	public function validate_text_field( $key, $value ) {
		$value = is_null( $value ) ? '' : $value;
		return wp_kses_post( trim( stripslashes( $value ) ) );
	}

	public function validate_password_field( $key, $value ) {
		$value = is_null( $value ) ? '' : $value;
		return trim( stripslashes( $value ) );
	}

	public function validate_textarea_field( $key, $value ) {
		$value = is_null( $value ) ? '' : $value;
		return wp_kses( trim( stripslashes( $value ) ), array() );
	}

	public function validate_checkbox_field( $key, $value ) {
		return ! is_null( $value ) ? 'yes' : 'no';
	}

	public function validate_select_field( $key, $value ) {
		$value = is_null( $value ) ? '' : $value;
		return wc_clean( stripslashes( $value ) );
	}
}

abstract class WC_Payment_Gateway extends WC_Settings_API {
	public $order_button_text;
	public $enabled = 'yes';
	public $title;
	public $description;
	public $chosen;
	public $method_title       = '';
	public $method_description = '';
	public $has_fields;
	public $countries;
	public $availability;
	public $icon;
	public $supports   = array( 'products' );
	public $max_amount = 0;

	public function get_method_title() {
		return apply_filters( 'woocommerce_gateway_method_title', $this->method_title, $this );
	}

	public function get_method_description() {
		return apply_filters( 'woocommerce_gateway_method_description', $this->method_description, $this );
	}

	public function admin_options() {
		echo '<h2>' . esc_html( $this->get_method_title() ) . '</h2>';
		echo wp_kses_post( wpautop( $this->get_method_description() ) );
		parent::admin_options();
	}

	public function init_settings() {
		parent::init_settings();
		$this->enabled = ! empty( $this->settings['enabled'] ) && 'yes' === $this->settings['enabled'] ? 'yes' : 'no';
	}

	public function needs_setup() {
		return false;
	}

	public function get_return_url( $order = null ) {
		if ( $order ) {
			$return_url = $order->get_checkout_order_received_url();
		} else {
			$return_url = home_url( 'checkout/order-received/' );
		}
		return apply_filters( 'woocommerce_get_return_url', $return_url, $order );
	}

	public function is_available() {
		return 'yes' === $this->enabled;
	}

	public function get_title() {
		return apply_filters( 'woocommerce_gateway_title', (string) $this->title, $this->id );
	}

	public function get_description() {
		return apply_filters( 'woocommerce_gateway_description', wp_kses_post( $this->description ), $this->id );
	}

	public function process_payment( $order_id ) {
		return array();
	}

	public function supports( $feature ) {
		return apply_filters( 'woocommerce_payment_gateway_supports', in_array( $feature, $this->supports, true ), $feature, $this );
	}
}

/**
 * An order: the getters the plugin uses, meta through the CRUD calls, and a record of saves,
 * status changes and notes.
 */
class WC_Order {
	/** @var array<string, mixed> */
	public $data;
	/** @var array<string, mixed> Meta as changed in memory. */
	public $meta = array();
	/** @var array<string, mixed> Meta as of the last save(). */
	public $saved_meta = array();
	/** @var int */
	public $save_count = 0;
	/** @var array<int, array{note: string, customer: bool}> */
	public $notes = array();
	/** @var array<int, array{from: string, to: string, note: string}> */
	public $status_changes = array();

	public function __construct( array $data = array() ) {
		$this->data = array_merge(
			array(
				'id'             => 1001,
				'order_key'      => 'wc_order_AbC123dEf456',
				'total'          => '49.90',
				'currency'       => 'EUR',
				'billing_email'  => 'shopper@example.com',
				'number'         => null,
				'status'         => 'pending',
				'payment_method' => 'coinbridge',
			),
			$data
		);
		if ( null === $this->data['number'] ) {
			$this->data['number'] = (string) $this->data['id'];
		}
	}

	public function get_id() {
		return (int) $this->data['id'];
	}

	public function get_order_key() {
		return $this->data['order_key'];
	}

	/** WooCommerce returns the stored total as a string in 'view' context, after a filter. */
	public function get_total( $context = 'view' ) {
		return $this->data['total'];
	}

	public function get_currency( $context = 'view' ) {
		return $this->data['currency'];
	}

	public function get_billing_email( $context = 'view' ) {
		return $this->data['billing_email'];
	}

	public function get_order_number() {
		return (string) $this->data['number'];
	}

	public function get_status( $context = 'view' ) {
		return $this->data['status'];
	}

	public function get_payment_method( $context = 'view' ) {
		return $this->data['payment_method'];
	}

	public function has_status( $status ) {
		return is_array( $status ) ? in_array( $this->get_status(), $status, true ) : $this->get_status() === $status;
	}

	public function needs_payment() {
		return $this->has_status( array( 'pending', 'failed' ) ) && (float) $this->get_total() > 0;
	}

	public function get_checkout_order_received_url() {
		return home_url( 'checkout/order-received/' . $this->get_id() . '/' ) . '?key=' . $this->get_order_key();
	}

	public function update_meta_data( $key, $value, $meta_id = 0 ) {
		$this->meta[ $key ] = $value;
	}

	public function add_meta_data( $key, $value, $unique = false ) {
		$this->meta[ $key ] = $value;
	}

	public function delete_meta_data( $key ) {
		unset( $this->meta[ $key ] );
	}

	public function get_meta( $key = '', $single = true, $context = 'view' ) {
		return isset( $this->meta[ $key ] ) ? $this->meta[ $key ] : '';
	}

	public function save() {
		$this->saved_meta = $this->meta;
		++$this->save_count;
		return $this->get_id();
	}

	public function update_status( $new_status, $note = '', $manual = false ) {
		$new_status = 0 === strpos( $new_status, 'wc-' ) ? substr( $new_status, 3 ) : $new_status;
		$from       = $this->data['status'];
		$this->data['status'] = $new_status;
		if ( $from !== $new_status ) {
			$this->status_changes[] = array(
				'from' => $from,
				'to'   => $new_status,
				'note' => $note,
			);
			$this->notes[] = array(
				'note'     => trim( $note . ' Order status changed from ' . $from . ' to ' . $new_status . '.' ),
				'customer' => false,
			);
		}
		$this->save();
		return true;
	}

	public function add_order_note( $note, $is_customer_note = 0, $added_by_user = false ) {
		$this->notes[] = array(
			'note'     => $note,
			'customer' => (bool) $is_customer_note,
		);
		return count( $this->notes );
	}
}

function wc_get_order( $order_id = false ) {
	$order_id = (int) $order_id;
	return isset( Coinbridge_Test_Env::$orders[ $order_id ] ) ? Coinbridge_Test_Env::$orders[ $order_id ] : false;
}

function wc_add_notice( $message, $notice_type = 'success', $data = array() ) {
	Coinbridge_Test_Env::$notices[] = array(
		'message' => $message,
		'type'    => $notice_type,
	);
}

function wc_get_price_decimals() {
	return absint( get_option( 'woocommerce_price_num_decimals', 2 ) );
}

function wc_clean( $var ) {
	return is_array( $var ) ? array_map( 'wc_clean', $var ) : sanitize_text_field( $var );
}

/** Records log lines, like WooCommerce's logger would write them. */
class Coinbridge_Test_Logger {
	public function log( $level, $message, $context = array() ) {
		Coinbridge_Test_Env::$logs[] = array(
			'level'   => $level,
			'message' => $message,
			'context' => $context,
		);
	}

	public function __call( $level, $args ) {
		$this->log( $level, $args[0], isset( $args[1] ) ? $args[1] : array() );
	}
}

function wc_get_logger() {
	return new Coinbridge_Test_Logger();
}

/** WC(): just the payment gateway list, built from the woocommerce_payment_gateways filter. */
final class Coinbridge_Test_Payment_Gateways {
	/** @var array<string, WC_Payment_Gateway>|null */
	private static $gateways = null;

	public static function reset() {
		self::$gateways = null;
	}

	public function payment_gateways() {
		if ( null === self::$gateways ) {
			self::$gateways = array();
			foreach ( apply_filters( 'woocommerce_payment_gateways', array() ) as $gateway ) {
				$gateway                        = is_string( $gateway ) ? new $gateway() : $gateway;
				self::$gateways[ $gateway->id ] = $gateway;
			}
		}
		return self::$gateways;
	}
}

final class Coinbridge_Test_WC {
	/** @var Coinbridge_Test_Payment_Gateways */
	public $gateways;

	public function __construct() {
		$this->gateways = new Coinbridge_Test_Payment_Gateways();
	}

	public function payment_gateways() {
		return $this->gateways;
	}
}

function WC() {
	static $wc = null;
	if ( null === $wc ) {
		$wc = new Coinbridge_Test_WC();
	}
	return $wc;
}

require_once __DIR__ . '/woocommerce-namespaced.php';
