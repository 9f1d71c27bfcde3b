// Metrics: the time-bucketed metrics API (`/metrics/*`) does not exist in Pier yet. The page says
// so instead of drawing invented numbers; when the API lands, fetch it here and draw the charts
// (the page keeps the same `{id, title, icon, mount}` shape).
import { mount } from '../dom.js';
import { comingSoon } from './transformations.js';

export default {
  id: 'metrics',
  title: 'Metrics',
  icon: 'metrics',
  soon: true,
  mount(root) {
    mount(
      root,
      comingSoon({
        title: 'Metrics',
        subtitle: 'Throughput, errors, latency and queue depth over time.',
        icon: 'metrics',
        heading: 'Metrics are coming soon',
        text: 'Charts need Pier’s metrics API, which is not built yet. Meanwhile the Requests and Events pages show every request, event and attempt live.',
        bullets: [
          'Requests and events per minute, by source and connection',
          'Error rate and failed deliveries by status code',
          'Delivery latency p50 / p99',
          'Queue depth and oldest event per destination',
        ],
      }),
    );
    return {};
  },
};
