<?php
/**
 * A small string extractor for languages/coinbridge.pot (what `wp i18n make-pot` would find,
 * for the few gettext functions this plugin uses). bin/make-pot.php writes the file; the tests
 * check the file is current and that every call uses the "coinbridge" text domain.
 *
 * @package Coinbridge\Tests
 */

// phpcs:disable

const COINBRIDGE_I18N_FUNCTIONS   = array( '__', '_e', 'esc_html__', 'esc_html_e', 'esc_attr__', 'esc_attr_e' );
const COINBRIDGE_I18N_UNSUPPORTED = array( '_x', '_ex', '_n', '_nx', '_n_noop', '_nx_noop', 'esc_html_x', 'esc_attr_x' );
const COINBRIDGE_TEXT_DOMAIN      = 'coinbridge';

/**
 * Every translatable string of the plugin.
 *
 * @param string $plugin_dir Plugin directory.
 * @return array{entries: array<string, array{refs: string[], comments: string[]}>, problems: string[]}
 */
function coinbridge_extract_strings( $plugin_dir ) {
	$entries  = array();
	$problems = array();
	$add      = function ( $msgid, $ref, $comment ) use ( &$entries ) {
		if ( ! isset( $entries[ $msgid ] ) ) {
			$entries[ $msgid ] = array(
				'refs'     => array(),
				'comments' => array(),
			);
		}
		if ( ! in_array( $ref, $entries[ $msgid ]['refs'], true ) ) {
			$entries[ $msgid ]['refs'][] = $ref;
		}
		if ( '' !== $comment && ! in_array( $comment, $entries[ $msgid ]['comments'], true ) ) {
			$entries[ $msgid ]['comments'][] = $comment;
		}
	};

	$files = array();
	$it    = new RecursiveIteratorIterator( new RecursiveDirectoryIterator( $plugin_dir, FilesystemIterator::SKIP_DOTS ) );
	foreach ( $it as $file ) {
		if ( in_array( $file->getExtension(), array( 'php', 'js' ), true ) ) {
			$files[] = $file->getPathname();
		}
	}
	sort( $files );

	// Plugin header strings come first, as make-pot puts them.
	$main = $plugin_dir . '/coinbridge-for-woocommerce.php';
	$head = file_get_contents( $main, false, null, 0, 8192 );
	foreach ( array( 'Plugin Name', 'Description' ) as $field ) {
		if ( preg_match( '/^[ \t\/*#@]*' . preg_quote( $field, '/' ) . ':(.*)$/mi', $head, $m ) ) {
			$add( trim( $m[1] ), 'coinbridge-for-woocommerce.php', $field . ' of the plugin' );
		}
	}

	foreach ( $files as $path ) {
		$ref    = ltrim( substr( $path, strlen( $plugin_dir ) ), '/' );
		$source = file_get_contents( $path );
		if ( substr( $path, -3 ) === '.js' ) {
			if ( preg_match_all( "/\\b__\\(\\s*'((?:[^'\\\\]|\\\\.)*)'\\s*,\\s*'([^']*)'\\s*\\)/", $source, $matches, PREG_SET_ORDER ) ) {
				foreach ( $matches as $m ) {
					if ( COINBRIDGE_TEXT_DOMAIN !== $m[2] ) {
						$problems[] = "$ref: text domain '{$m[2]}' for '{$m[1]}'";
					}
					$add( stripcslashes( $m[1] ), $ref, '' );
				}
			}
			continue;
		}

		$tokens  = token_get_all( $source );
		$count   = count( $tokens );
		$comment = '';
		for ( $i = 0; $i < $count; $i++ ) {
			$token = $tokens[ $i ];
			if ( is_array( $token ) && in_array( $token[0], array( T_COMMENT, T_DOC_COMMENT ), true ) && false !== stripos( $token[1], 'translators:' ) ) {
				$text    = preg_replace( '#^\s*(/\*+|//)\s*|\s*\*+/\s*$#', '', $token[1] );
				$comment = trim( preg_replace( '/\s+/', ' ', $text ) );
				continue;
			}
			if ( ! is_array( $token ) || T_STRING !== $token[0] ) {
				continue;
			}
			$name = $token[1];
			$prev = coinbridge_i18n_neighbour( $tokens, $i, -1 );
			if ( is_array( $prev ) && in_array( $prev[0], array( T_OBJECT_OPERATOR, T_DOUBLE_COLON, T_FUNCTION ), true ) ) {
				continue;
			}
			$next = coinbridge_i18n_neighbour( $tokens, $i, 1 );
			if ( '(' !== $next ) {
				continue;
			}
			if ( in_array( $name, COINBRIDGE_I18N_UNSUPPORTED, true ) ) {
				$problems[] = "$ref:{$token[2]}: $name() is not handled by the extractor; use __() and friends";
				continue;
			}
			if ( ! in_array( $name, COINBRIDGE_I18N_FUNCTIONS, true ) ) {
				continue;
			}
			// Arguments: a literal, a comma, a literal, a closing parenthesis.
			$args = array();
			$j    = $i + 1;
			while ( $j < $count && '(' !== $tokens[ $j ] ) {
				$j++;
			}
			for ( $j++; $j < $count && ')' !== $tokens[ $j ]; $j++ ) {
				if ( is_array( $tokens[ $j ] ) && T_WHITESPACE === $tokens[ $j ][0] ) {
					continue;
				}
				$args[] = $tokens[ $j ];
			}
			$literal = function ( $t ) {
				return is_array( $t ) && T_CONSTANT_ENCAPSED_STRING === $t[0] && "'" === $t[1][0];
			};
			if ( 3 !== count( $args ) || ! $literal( $args[0] ) || ',' !== $args[1] || ! $literal( $args[2] ) ) {
				$problems[] = "$ref:{$token[2]}: $name() must get a single-quoted string and the text domain";
				$comment    = '';
				continue;
			}
			$domain = coinbridge_i18n_unquote( $args[2][1] );
			if ( COINBRIDGE_TEXT_DOMAIN !== $domain ) {
				$problems[] = "$ref:{$token[2]}: text domain '$domain'";
			}
			$add( coinbridge_i18n_unquote( $args[0][1] ), $ref, $comment );
			$comment = '';
		}
	}
	return array(
		'entries'  => $entries,
		'problems' => $problems,
	);
}

/**
 * The next or previous token that is not whitespace.
 */
function coinbridge_i18n_neighbour( array $tokens, $i, $step ) {
	for ( $j = $i + $step; isset( $tokens[ $j ] ); $j += $step ) {
		if ( is_array( $tokens[ $j ] ) && T_WHITESPACE === $tokens[ $j ][0] ) {
			continue;
		}
		return $tokens[ $j ];
	}
	return null;
}

/**
 * The value of a single-quoted PHP literal.
 */
function coinbridge_i18n_unquote( $literal ) {
	return strtr( substr( $literal, 1, -1 ), array( "\\'" => "'", '\\\\' => '\\' ) );
}

/**
 * A PO string literal.
 */
function coinbridge_po_quote( $text ) {
	return '"' . strtr( $text, array( '\\' => '\\\\', '"' => '\\"', "\n" => '\\n', "\t" => '\\t' ) ) . '"';
}

/**
 * The POT file for the entries.
 *
 * @param array  $entries From coinbridge_extract_strings.
 * @param string $version Plugin version.
 * @return string
 */
function coinbridge_render_pot( array $entries, $version ) {
	$out  = "# Copyright (C) Coinbridge\n";
	$out .= "# This file is distributed under the MIT license.\n";
	$out .= "# Regenerate with: php plugins/woocommerce/tests/bin/make-pot.php\n";
	$out .= "msgid \"\"\n";
	$out .= "msgstr \"\"\n";
	$out .= coinbridge_po_quote( "Project-Id-Version: Coinbridge for WooCommerce $version\n" ) . "\n";
	$out .= coinbridge_po_quote( "Report-Msgid-Bugs-To: https://github.com/coinbridge/coinbridge/issues\n" ) . "\n";
	$out .= coinbridge_po_quote( "PO-Revision-Date: YEAR-MO-DA HO:MI+ZONE\n" ) . "\n";
	$out .= coinbridge_po_quote( "Last-Translator: FULL NAME <EMAIL@ADDRESS>\n" ) . "\n";
	$out .= coinbridge_po_quote( "Language-Team: LANGUAGE <LL@li.org>\n" ) . "\n";
	$out .= coinbridge_po_quote( "Language: \n" ) . "\n";
	$out .= coinbridge_po_quote( "MIME-Version: 1.0\n" ) . "\n";
	$out .= coinbridge_po_quote( "Content-Type: text/plain; charset=UTF-8\n" ) . "\n";
	$out .= coinbridge_po_quote( "Content-Transfer-Encoding: 8bit\n" ) . "\n";
	$out .= coinbridge_po_quote( "X-Domain: coinbridge\n" ) . "\n";
	foreach ( $entries as $msgid => $entry ) {
		$out .= "\n";
		foreach ( $entry['comments'] as $comment ) {
			$out .= '#. ' . $comment . "\n";
		}
		$out .= '#: ' . implode( ' ', $entry['refs'] ) . "\n";
		if ( preg_match( '/%(\d+\$)?[sd]/', $msgid ) ) {
			$out .= "#, php-format\n";
		}
		$out .= 'msgid ' . coinbridge_po_quote( $msgid ) . "\n";
		$out .= "msgstr \"\"\n";
	}
	return $out;
}
