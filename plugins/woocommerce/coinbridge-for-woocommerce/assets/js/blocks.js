/**
 * Coinbridge on the Cart and Checkout blocks. Plain JavaScript, no build step: it uses the
 * globals WordPress and WooCommerce provide (wc-blocks-registry, wp-element, wp-html-entities,
 * wp-i18n). Paying happens on the server (process_payment) and then on Coinbridge.
 */
( function ( window ) {
	'use strict';

	var wc = window.wc || {};
	var wp = window.wp || {};
	if ( ! wc.wcBlocksRegistry || ! wc.wcSettings || ! wp.element ) {
		return;
	}

	var createElement = wp.element.createElement;
	var decodeEntities = wp.htmlEntities && wp.htmlEntities.decodeEntities
		? wp.htmlEntities.decodeEntities
		: function ( text ) { return text; };
	var __ = wp.i18n && wp.i18n.__ ? wp.i18n.__ : function ( text ) { return text; };

	var settings = wc.wcSettings.getSetting( 'coinbridge_data', {} ) || {};
	var label = decodeEntities( settings.title || '' ) || __( 'Pay with crypto', 'coinbridge' );
	var description = decodeEntities( settings.description || '' );
	var features = Array.isArray( settings.supports ) && settings.supports.length ? settings.supports : [ 'products' ];

	function Content() {
		return createElement( 'div', { className: 'coinbridge-blocks-description' }, description );
	}

	function Label( props ) {
		var components = props && props.components;
		if ( components && components.PaymentMethodLabel ) {
			return createElement( components.PaymentMethodLabel, { text: label } );
		}
		return createElement( 'span', null, label );
	}

	wc.wcBlocksRegistry.registerPaymentMethod( {
		name: 'coinbridge',
		label: createElement( Label, null ),
		content: createElement( Content, null ),
		edit: createElement( Content, null ),
		canMakePayment: function () {
			return true;
		},
		ariaLabel: label,
		supports: {
			features: features,
		},
	} );
} )( window );
