<?php
/**
 * Writes coinbridge-for-woocommerce/languages/coinbridge.pot from the plugin sources.
 * Usage: php plugins/woocommerce/tests/bin/make-pot.php
 *
 * @package Coinbridge\Tests
 */

// phpcs:disable

require __DIR__ . '/../i18n-extract.php';

$plugin_dir = dirname( __DIR__, 2 ) . '/coinbridge-for-woocommerce';
$result     = coinbridge_extract_strings( $plugin_dir );
if ( $result['problems'] ) {
	fwrite( STDERR, "Fix these first:\n  " . implode( "\n  ", $result['problems'] ) . "\n" );
	exit( 1 );
}
preg_match( '/^[ \t\/*#@]*Version:(.*)$/mi', file_get_contents( $plugin_dir . '/coinbridge-for-woocommerce.php' ), $m );
$pot = coinbridge_render_pot( $result['entries'], trim( $m[1] ) );
file_put_contents( $plugin_dir . '/languages/coinbridge.pot', $pot );
echo count( $result['entries'] ) . " strings written to languages/coinbridge.pot\n";
