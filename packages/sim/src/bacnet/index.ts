export { startBacnetDevice, type BacnetDeviceOptions, type BacnetWriteAttempt, type BacnetSubscription, type SimulatedBacnetDevice } from './bacnet-device.ts';
