/** Test doubles for the ports defined in @shellguard/protocol; never imported by shipped code. */
export { ManualClock } from './manual-clock.ts';
