/**
 * bench/poll's devices, in a process of their own so that their CPU is not the guardian's: a
 * mixed simulated site (BACnet/IP, SNMPv3, Redfish, Modbus) on loopback. Prints its assets as one
 * JSON line (with the simulator's credentials) and runs until killed.
 */
import { startSimulatedSite } from '@shellguard/sim';

const at = process.argv.indexOf('--assets');
const assets = at >= 0 ? Number(process.argv[at + 1]) : 72;
const site = process.argv.includes('--modbus-site') ? 'modbus' : 'mixed';
const sim = await startSimulatedSite({ site: 'bench-poll', assets, basePort: 0, seed: 7, protocols: site, tickMs: 1000 });
process.stdout.write(`${JSON.stringify({ assets: sim.assets, pid: process.pid })}\n`);
const stop = async () => { await sim.stop(); process.exit(0); };
process.on('SIGTERM', () => { void stop(); });
process.on('SIGINT', () => { void stop(); });
