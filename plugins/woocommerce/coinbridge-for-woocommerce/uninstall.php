<?php
/**
 * Uninstall: deletes the plugin's own options (settings, API key, store id, claim secret).
 * Orders keep their Coinbridge notes and meta, so their history stays readable.
 *
 * @package Coinbridge
 */

if ( ! defined( 'WP_UNINSTALL_PLUGIN' ) ) {
	exit;
}

foreach ( array(
	'woocommerce_coinbridge_settings',
	'coinbridge_api_key',
	'coinbridge_store_id',
	'coinbridge_connected',
	'coinbridge_claim_secret',
) as $coinbridge_option ) {
	delete_option( $coinbridge_option );
}
unset( $coinbridge_option );
