/* Coinbridge storefront widget loader: <script src="https://coinbridge.example/widget.js" async></script>
   then <coinbridge-checkout ref="…"></coinbridge-checkout>. Works out Coinbridge's address from
   this script's own URL and loads the element's modules from {base}/widget/ in parallel. */
(function () {
  var s = document.currentScript || document.querySelector('script[src$="/widget.js"],script[src*="/widget.js?"]');
  var base = new URL('.', s && s.src ? s.src : location.href).href;
  ['checkout', 'i18n', 'format', 'state', 'live'].forEach(function (m) {
    import(base + 'widget/' + m + '.js').catch(function (e) {
      if (m === 'checkout') console.error('Coinbridge widget could not load', e);
    });
  });
})();
