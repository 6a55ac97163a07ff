import '@shopify/ui-extensions/preact';
import {render} from 'preact';
import {PaymentBlock} from './PaymentBlock.jsx';

// Built and uploaded by Shopify CLI (`shopify app deploy`); Coinbridge never bundles this.
export default async () => {
  render(<OrderStatus />, document.body);
};

function OrderStatus() {
  // `order` is undefined until Shopify has finished processing the order.
  return <PaymentBlock orderId={shopify.order.value?.id} />;
}
