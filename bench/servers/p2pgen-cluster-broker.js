/** One more broker of the bench's cluster (p2pgen-cluster.js forks it): joins the NATS given as its argument, says its URL. */
import { createBroker } from 'p2pgen/broker';

const broker = await createBroker({ port: 0, host: '127.0.0.1', cluster: { nats: process.argv[2] } });
process.send({ url: broker.url });
process.on('disconnect', () => process.exit(0));
