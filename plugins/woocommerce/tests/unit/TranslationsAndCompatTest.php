<?php
/**
 * Translations (text domain, POT file) and PHP 7.4 compatibility of the plugin sources.
 *
 * @package Coinbridge\Tests
 */

require_once dirname( __DIR__ ) . '/i18n-extract.php';

/**
 * Source-level checks.
 */
final class TranslationsAndCompatTest extends Coinbridge_Test_Case {

	public function test_every_translatable_string_uses_the_coinbridge_domain() {
		$result = coinbridge_extract_strings( COINBRIDGE_TEST_PLUGIN_DIR );
		$this->assertSame( array(), $result['problems'] );
		$this->assertArrayHasKey( 'Pay with crypto', $result['entries'] );
		$this->assertArrayHasKey( 'Connect to Coinbridge', $result['entries'] );
	}

	public function test_the_pot_file_is_current() {
		$result   = coinbridge_extract_strings( COINBRIDGE_TEST_PLUGIN_DIR );
		$expected = coinbridge_render_pot( $result['entries'], COINBRIDGE_WC_VERSION );
		$this->assertSame(
			$expected,
			file_get_contents( COINBRIDGE_TEST_PLUGIN_DIR . '/languages/coinbridge.pot' ),
			'languages/coinbridge.pot is stale: run php plugins/woocommerce/tests/bin/make-pot.php'
		);
	}

	public function test_sources_avoid_syntax_and_functions_newer_than_php_7_4() {
		$newer_functions = array( 'str_contains', 'str_starts_with', 'str_ends_with', 'array_is_list', 'get_debug_type', 'fdiv', 'get_resource_id', 'array_find', 'enum_exists' );
		$newer_tokens    = array_filter(
			array(
				defined( 'T_MATCH' ) ? T_MATCH : null,
				defined( 'T_NULLSAFE_OBJECT_OPERATOR' ) ? T_NULLSAFE_OBJECT_OPERATOR : null,
				defined( 'T_ENUM' ) ? T_ENUM : null,
				defined( 'T_READONLY' ) ? T_READONLY : null,
				defined( 'T_ATTRIBUTE' ) ? T_ATTRIBUTE : null,
			)
		);
		$files = new RecursiveIteratorIterator( new RecursiveDirectoryIterator( COINBRIDGE_TEST_PLUGIN_DIR, FilesystemIterator::SKIP_DOTS ) );
		$found = array();
		foreach ( $files as $file ) {
			if ( 'php' !== $file->getExtension() ) {
				continue;
			}
			$tokens = token_get_all( file_get_contents( $file->getPathname() ) );
			foreach ( $tokens as $i => $token ) {
				if ( ! is_array( $token ) ) {
					continue;
				}
				if ( in_array( $token[0], $newer_tokens, true ) ) {
					$found[] = $file->getFilename() . ':' . $token[2] . ' ' . token_name( $token[0] );
				}
				if ( T_STRING === $token[0] && in_array( strtolower( $token[1] ), $newer_functions, true ) ) {
					$found[] = $file->getFilename() . ':' . $token[2] . ' ' . $token[1] . '()';
				}
				// Named arguments: an identifier directly followed by ':' inside a call.
				if ( T_STRING === $token[0] && isset( $tokens[ $i + 1 ] ) && ':' === $tokens[ $i + 1 ] && isset( $tokens[ $i - 1 ] ) && in_array( $tokens[ $i - 1 ], array( '(', ',' ), true ) ) {
					$found[] = $file->getFilename() . ':' . $token[2] . ' named argument ' . $token[1];
				}
			}
		}
		$this->assertSame( array(), $found );
	}

	public function test_no_post_meta_or_direct_database_access() {
		$files = new RecursiveIteratorIterator( new RecursiveDirectoryIterator( COINBRIDGE_TEST_PLUGIN_DIR, FilesystemIterator::SKIP_DOTS ) );
		foreach ( $files as $file ) {
			if ( 'php' !== $file->getExtension() ) {
				continue;
			}
			$source = file_get_contents( $file->getPathname() );
			foreach ( array( 'update_post_meta', 'get_post_meta', 'add_post_meta', 'delete_post_meta', '$wpdb', 'get_post(' ) as $forbidden ) {
				$this->assertStringNotContainsString( $forbidden, $source, $file->getFilename() . ' uses ' . $forbidden . ' (HPOS needs order CRUD)' );
			}
		}
	}
}
