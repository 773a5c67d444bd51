/**
 * What root tests and benches drive in-process (`@shellguard/cli/testing`): the demo the
 * `shellguard demo` command starts, without its process around it. Never imported by src.
 */
export { startDemo, type DemoOptions, type RunningDemo, type StartDemoOptions } from '../commands/demo.ts';
export { BEARING_WEAR_SCENARIO } from '../commands/demo-scenario.ts';
