<?php
/**
 * The main plugin file: header, hooks, compatibility declarations, Blocks integration.
 *
 * @package Coinbridge\Tests
 */

use Automattic\WooCommerce\Blocks\Payments\PaymentMethodRegistry;

/**
 * Wiring into WordPress and WooCommerce.
 */
final class PluginTest extends Coinbridge_Test_Case {

	/** @var string */
	private $main_file;

	protected function setUp(): void {
		parent::setUp();
		$this->main_file = COINBRIDGE_TEST_PLUGIN_DIR . '/coinbridge-for-woocommerce.php';
	}

	/**
	 * Plugin header fields, parsed like WordPress's get_file_data.
	 *
	 * @return array<string, string>
	 */
	private function header() {
		$source = file_get_contents( $this->main_file, false, null, 0, 8192 );
		$fields = array();
		foreach ( array( 'Plugin Name', 'Description', 'Version', 'Requires at least', 'Requires PHP', 'Text Domain', 'Domain Path', 'WC requires at least', 'WC tested up to', 'Requires Plugins', 'License' ) as $name ) {
			if ( preg_match( '/^[ \t\/*#@]*' . preg_quote( $name, '/' ) . ':(.*)$/mi', $source, $m ) ) {
				$fields[ $name ] = trim( $m[1] );
			}
		}
		return $fields;
	}

	public function test_plugin_header() {
		$header = $this->header();
		$this->assertSame( 'Coinbridge for WooCommerce', $header['Plugin Name'] );
		$this->assertSame( 'coinbridge', $header['Text Domain'] );
		$this->assertSame( '/languages', $header['Domain Path'] );
		$this->assertSame( '7.4', $header['Requires PHP'] );
		$this->assertMatchesRegularExpression( '/^\d+\.\d+/', $header['WC requires at least'] );
		$this->assertSame( 'woocommerce', $header['Requires Plugins'] );
		$this->assertSame( COINBRIDGE_WC_VERSION, $header['Version'] );
	}

	public function test_readme_agrees_with_the_header() {
		$readme = file_get_contents( COINBRIDGE_TEST_PLUGIN_DIR . '/readme.txt' );
		$header = $this->header();
		$this->assertStringStartsWith( '=== Coinbridge for WooCommerce ===', $readme );
		$this->assertStringContainsString( 'Stable tag: ' . $header['Version'], $readme );
		$this->assertStringContainsString( 'Requires PHP: ' . $header['Requires PHP'], $readme );
		$this->assertStringContainsString( 'Requires at least: ' . $header['Requires at least'], $readme );
	}

	public function test_declares_hpos_and_blocks_compatibility_before_woocommerce_init() {
		$this->assertNotFalse( has_action( 'before_woocommerce_init', 'coinbridge_declare_compatibility' ) );

		do_action( 'before_woocommerce_init' );

		$declared = array();
		foreach ( Coinbridge_Test_Env::$feature_declarations as $declaration ) {
			$this->assertSame( realpath( $this->main_file ), realpath( $declaration['file'] ) );
			$this->assertTrue( $declaration['compatible'] );
			$declared[] = $declaration['feature'];
		}
		sort( $declared );
		$this->assertSame( array( 'cart_checkout_blocks', 'custom_order_tables' ), $declared );
	}

	public function test_registers_the_gateway_with_woocommerce() {
		$this->assertNotFalse( has_filter( 'woocommerce_payment_gateways', 'coinbridge_add_gateway' ) );
		$gateways = apply_filters( 'woocommerce_payment_gateways', array( 'WC_Gateway_BACS' ) );
		$this->assertSame( array( 'WC_Gateway_BACS', 'Coinbridge_Gateway' ), $gateways );
		$this->assertTrue( is_subclass_of( 'Coinbridge_Gateway', 'WC_Payment_Gateway' ) );
	}

	public function test_admin_actions_use_the_gateway_woocommerce_made() {
		update_option( Coinbridge_Gateway::OPTION_SETTINGS, array( 'coinbridge_url' => self::COINBRIDGE_URL ) );
		$made = WC()->payment_gateways()->payment_gateways()['coinbridge'];
		$this->assertSame( $made, coinbridge_gateway() );
	}

	public function test_loads_the_textdomain_on_init() {
		$this->assertNotFalse( has_action( 'init', 'coinbridge_load_textdomain' ) );
		do_action( 'init' );
		$this->assertSame( 'coinbridge-for-woocommerce/languages', Coinbridge_Test_Env::$textdomains['coinbridge'] );
		$this->assertFileExists( COINBRIDGE_TEST_PLUGIN_DIR . '/languages/coinbridge.pot' );
	}

	public function test_registers_the_blocks_integration() {
		$this->assertNotFalse( has_action( 'woocommerce_blocks_payment_method_type_registration', 'coinbridge_register_blocks_support' ) );
		$registry = new PaymentMethodRegistry();

		do_action( 'woocommerce_blocks_payment_method_type_registration', $registry );

		$this->assertTrue( $registry->is_registered( 'coinbridge' ) );
		$this->assertInstanceOf( Coinbridge_Blocks_Support::class, $registry->registered['coinbridge'] );
		$this->assertInstanceOf(
			\Automattic\WooCommerce\Blocks\Payments\Integrations\AbstractPaymentMethodType::class,
			$registry->registered['coinbridge']
		);
	}

	public function test_settings_link_on_the_plugins_screen() {
		$links = apply_filters( 'plugin_action_links_coinbridge-for-woocommerce/coinbridge-for-woocommerce.php', array( '<a>Deactivate</a>' ) );
		$this->assertCount( 2, $links );
		$this->assertStringContainsString( 'section=coinbridge', $links[0] );
	}

	public function test_plugin_files_stop_when_loaded_outside_wordpress() {
		$plugin_files = new RecursiveIteratorIterator( new RecursiveDirectoryIterator( COINBRIDGE_TEST_PLUGIN_DIR, FilesystemIterator::SKIP_DOTS ) );
		foreach ( $plugin_files as $file ) {
			if ( 'php' !== $file->getExtension() ) {
				continue;
			}
			$source = file_get_contents( $file->getPathname() );
			$guard  = 'uninstall.php' === $file->getFilename() ? "defined( 'WP_UNINSTALL_PLUGIN' )" : "defined( 'ABSPATH' ) || exit;";
			$this->assertStringContainsString( $guard, $source, $file->getFilename() );
		}
	}
}
