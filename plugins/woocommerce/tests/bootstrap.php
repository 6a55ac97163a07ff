<?php
/**
 * PHPUnit bootstrap: the WordPress/WooCommerce stand-ins, then the plugin as WordPress would
 * load it (main file, then plugins_loaded).
 *
 * @package Coinbridge\Tests
 */

require_once __DIR__ . '/load-plugin.php';
require_once __DIR__ . '/unit/class-coinbridge-test-case.php';
