import '@shopify/ui-extensions/preact';
import {render} from 'preact';
import {PaymentBlock} from './PaymentBlock.jsx';

// Built and uploaded by Shopify CLI (`shopify app deploy`); Coinbridge never bundles this.
export default async () => {
  render(<ThankYou />, document.body);
};

function ThankYou() {
  // The gid becomes the Admin API order id once the order exists.
  return <PaymentBlock orderId={shopify.orderConfirmation.value?.order?.id} />;
}
