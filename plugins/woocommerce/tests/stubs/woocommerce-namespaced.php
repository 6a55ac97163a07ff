<?php
/**
 * WooCommerce stand-ins that live in namespaces: FeaturesUtil, the Blocks payment integration
 * base class and the payment method registry.
 *
 * @package Coinbridge\Tests
 */

// phpcs:disable

namespace Automattic\WooCommerce\Utilities {

	/** Records compatibility declarations. */
	class FeaturesUtil {
		public static function declare_compatibility( $feature_id, $plugin_file, $positive_compatibility = true ) {
			\Coinbridge_Test_Env::$feature_declarations[] = array(
				'feature'    => $feature_id,
				'file'       => $plugin_file,
				'compatible' => $positive_compatibility,
			);
			return true;
		}
	}
}

namespace Automattic\WooCommerce\Blocks\Integrations {

	interface IntegrationInterface {
		public function get_name();
		public function initialize();
		public function get_script_handles();
		public function get_editor_script_handles();
		public function get_script_data();
	}
}

namespace Automattic\WooCommerce\Blocks\Payments {

	interface PaymentMethodTypeInterface extends \Automattic\WooCommerce\Blocks\Integrations\IntegrationInterface {
		public function is_active();
		public function get_payment_method_script_handles();
		public function get_payment_method_script_handles_for_admin();
		public function get_supported_features();
		public function get_payment_method_data();
	}

	/** Collects registered payment method integrations (and refuses a name twice, like WooCommerce). */
	class PaymentMethodRegistry {
		/** @var array<string, PaymentMethodTypeInterface> */
		public $registered = array();

		public function register( $integration ) {
			$name = $integration->get_name();
			if ( isset( $this->registered[ $name ] ) ) {
				return false;
			}
			$this->registered[ $name ] = $integration;
			return true;
		}

		public function is_registered( $name ) {
			return isset( $this->registered[ $name ] );
		}
	}
}

namespace Automattic\WooCommerce\Blocks\Payments\Integrations {

	use Automattic\WooCommerce\Blocks\Payments\PaymentMethodTypeInterface;

	/** Same shape as WooCommerce's own base class. */
	abstract class AbstractPaymentMethodType implements PaymentMethodTypeInterface {
		protected $name     = '';
		protected $settings = array();

		protected function get_setting( $name, $default = '' ) {
			return isset( $this->settings[ $name ] ) ? $this->settings[ $name ] : $default;
		}

		public function get_name() {
			return $this->name;
		}

		public function is_active() {
			return true;
		}

		public function get_payment_method_script_handles() {
			return array();
		}

		public function get_payment_method_script_handles_for_admin() {
			return $this->get_payment_method_script_handles();
		}

		public function get_supported_features() {
			return array( 'products' );
		}

		public function get_payment_method_data() {
			return array();
		}

		public function get_script_handles() {
			return $this->get_payment_method_script_handles();
		}

		public function get_editor_script_handles() {
			return $this->get_payment_method_script_handles_for_admin();
		}

		public function get_script_data() {
			return $this->get_payment_method_data();
		}
	}
}
