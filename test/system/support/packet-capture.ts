/** A tshark capture of one loopback TCP port, decoded as Modbus/TCP afterwards. */
import { startCapture } from '../../../packages/guardian/test/drivers/packet-capture.ts';

export { hasTshark } from '../../../packages/guardian/test/drivers/packet-capture.ts';

export interface ModbusCapture {
  /** Stops capturing and returns the function code of every Modbus PDU seen (requests and responses). */
  stop(): Promise<number[]>;
}

export async function captureModbus(port: number, file: string): Promise<ModbusCapture> {
  const capture = await startCapture(file, `tcp port ${port}`);
  return {
    async stop() {
      await capture.stop();
      return capture.read(['-d', `tcp.port==${port},mbtcp`, '-Y', 'modbus', '-T', 'fields', '-e', 'modbus.func_code'])
        .split(/[\s,]+/).filter((s) => s.length > 0).map(Number);
    },
  };
}
