/**
 * The independent clients bench/poll compares the drivers with, reading the same values from the
 * same simulated devices and decoding them, nothing more: no read-only layer, no quality, no
 * samples. What the drivers cost beyond this is the price of Shellguard's checks and bookkeeping.
 */
import { createHash } from 'node:crypto';
import https from 'node:https';
import modbusSerial from 'modbus-serial';
import snmp from 'net-snmp';
import bacnetModule from '@bacnet-js/client';
import { BACNET_OBJECT_TYPES, BACNET_PROPERTIES, profileOfProtocol, type EquipmentProfile } from '@shellguard/protocol';
import type { SimulatedAsset } from '@shellguard/sim';
import { buildReadPlan } from '@shellguard/guardian';
import type { Reader } from './poller.ts';

const ModbusRTU = modbusSerial.default;
const AUTH = { sha224: snmp.AuthProtocols.sha224, sha256: snmp.AuthProtocols.sha256, sha384: snmp.AuthProtocols.sha384, sha512: snmp.AuthProtocols.sha512 } as const;
const PRIV = { aes128: snmp.PrivProtocols.aes, aes256: snmp.PrivProtocols.aes256b } as const;

async function modbus(a: SimulatedAsset, profile: EquipmentProfile): Promise<Reader> {
  const plan = buildReadPlan(profileOfProtocol(profile, 'modbus'));
  const c = new ModbusRTU();
  await c.connectTCP(a.host, { port: a.port });
  c.setID(a.unitId);
  c.setTimeout(1000);
  return {
    read: async () => {
      let good = 0;
      for (const b of plan.blocks) {
        const r = b.table === 'coil' ? await c.readCoils(b.address, b.quantity)
          : b.table === 'discrete' ? await c.readDiscreteInputs(b.address, b.quantity)
            : b.table === 'input' ? await c.readInputRegisters(b.address, b.quantity) : await c.readHoldingRegisters(b.address, b.quantity);
        if (r.data.length >= b.quantity) good += b.points.length;
      }
      return { good, bad: 0 };
    },
    close: () => new Promise<void>((res) => { c.close(() => res()); }),
  };
}

async function snmpV3(a: SimulatedAsset, profile: EquipmentProfile): Promise<Reader> {
  const u = a.access.snmp!.user;
  const oids = profileOfProtocol(profile, 'snmp').points.filter((p) => p.oid !== undefined).map((p) => p.oid!.replaceAll('{index}', a.access.snmp!.index ?? '1'));
  const session = snmp.createV3Session(a.host, {
    name: u.name, level: snmp.SecurityLevel.authPriv, authProtocol: AUTH[u.authProtocol], authKey: u.authKey, privProtocol: PRIV[u.privProtocol], privKey: u.privKey,
  }, { port: a.port, version: snmp.Version3, timeout: 1000, retries: 0 });
  const get = (chunk: string[]) => new Promise<number>((res, rej) => {
    session.get(chunk, (err, vbs) => (err ? rej(err) : res((vbs ?? []).filter((v) => !snmp.isVarbindError(v)).length)));
  });
  return {
    read: async () => {
      let good = 0;
      for (let i = 0; i < oids.length; i += 32) good += await get(oids.slice(i, i + 32));
      return { good, bad: oids.length - good };
    },
    close: async () => { session.close(); },
  };
}

type BacnetClientConstructor = typeof bacnetModule.default;
const loadedBacnet = bacnetModule as unknown as { default?: unknown };
const BacnetClient = (typeof loadedBacnet.default === 'function' ? loadedBacnet.default : bacnetModule) as BacnetClientConstructor;

/** @bacnet-js/client's ReadPropertyMultiple: present value and status flags, 16 objects per request, as the driver asks. */
async function bacnet(a: SimulatedAsset, profile: EquipmentProfile): Promise<Reader> {
  const points = profileOfProtocol(profile, 'bacnet').points;
  const specs = points.map((p) => ({
    objectId: { type: BACNET_OBJECT_TYPES[p.objectType], instance: p.instance },
    properties: [{ id: BACNET_PROPERTIES[p.property], index: 0xffffffff }, ...(p.property === 'present-value' ? [{ id: BACNET_PROPERTIES['status-flags'], index: 0xffffffff }] : [])],
  }));
  // The library binds a fixed port (0 means 47808 to it): pick one per reader.
  const client = new BacnetClient({ port: 20_000 + Math.floor(Math.random() * 20_000), interface: '127.0.0.1', reuseAddr: false, apduTimeout: 1000 });
  await new Promise<void>((res) => client.once('listening', () => res()));
  const receiver = { address: `${a.host}:${a.port}` };
  return {
    read: async () => {
      let good = 0;
      for (let i = 0; i < specs.length; i += 16) {
        const r = await client.readPropertyMultiple(receiver, specs.slice(i, i + 16) as never);
        for (const obj of r.values) good += obj.values.filter((v) => v.id === BACNET_PROPERTIES['present-value'] && v.value.length === 1 && typeof v.value[0]?.value === 'number').length;
      }
      return { good, bad: points.length - good };
    },
    close: async () => { client.close(); },
  };
}

function pointer(doc: unknown, ptr: string): unknown {
  let v = doc;
  for (const part of ptr.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string, unknown>)[part];
  }
  return v;
}

async function redfish(a: SimulatedAsset, profile: EquipmentProfile): Promise<Reader> {
  const r = a.access.redfish!;
  const points = profileOfProtocol(profile, 'redfish').points;
  const chassis = `/redfish/v1/Chassis/${r.chassis}`;
  const url = (res: string) => (res.startsWith('/redfish/v1/') ? res : `${chassis}/${res}`).replaceAll('{chassis}', r.chassis);
  const resources = [...new Set(points.map((p) => url(p.resource)))];
  const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
  const auth = `Basic ${Buffer.from(`${r.username}:${r.password}`).toString('base64')}`;
  const get = (path: string) => new Promise<unknown>((res, rej) => {
    const req = https.request({
      host: a.host, port: a.port, path, agent, rejectUnauthorized: false, headers: { authorization: auth, accept: 'application/json' },
    }, (resp) => {
      const parts: Buffer[] = [];
      resp.on('data', (c: Buffer) => parts.push(c)).on('end', () => res(JSON.parse(Buffer.concat(parts).toString())));
    });
    // The same pin the guardian checks, so neither side skips the certificate: once per new
    // connection (a kept-alive socket was checked when it connected).
    req.on('socket', (s) => {
      if (req.reusedSocket) return;
      s.once('secureConnect', () => {
        const der = (s as import('node:tls').TLSSocket).getPeerCertificate().raw;
        if (createHash('sha256').update(der).digest('hex') !== r.certificate.sha256) req.destroy(new Error('pin mismatch'));
      });
    });
    req.on('error', rej).end();
  });
  return {
    read: async () => {
      const docs = new Map<string, unknown>();
      for (const res of resources) docs.set(res, await get(res));
      let good = 0;
      for (const p of points) if (pointer(docs.get(url(p.resource)), p.pointer) !== undefined) good += 1;
      return { good, bad: points.length - good };
    },
    close: async () => { agent.destroy(); },
  };
}

export async function baselineReader(a: SimulatedAsset, profile: EquipmentProfile): Promise<Reader> {
  switch (a.protocol) {
    case 'modbus': return modbus(a, profile);
    case 'snmp': return snmpV3(a, profile);
    case 'redfish': return redfish(a, profile);
    case 'bacnet': return bacnet(a, profile);
  }
}
