/**
 * Commissioning: which rows a table has, so an engineer can choose `snmp.index` (the interface
 * of a switch port, the outlet of a PDU). Walks one column with GETBULK (read-only-session.ts)
 * and returns each row's index with the column's value (e.g. ifDescr: index -> name).
 */
import type { ReadOnlySnmpSession } from './read-only-session.ts';

export interface TableRow {
  /** The instance part after the column OID: `3`, or `1.2` for a two-part index. */
  index: string;
  /** The column's value, as text (DisplayString) or a number. */
  value: string | number;
}

export async function listTableIndexes(session: ReadOnlySnmpSession, columnOid: string, maxRepetitions = 20): Promise<TableRow[]> {
  const vbs = await session.walk(columnOid, maxRepetitions);
  return vbs.map((vb) => ({
    index: vb.oid.slice(columnOid.length + 1),
    value: vb.value instanceof Buffer ? vb.value.toString('utf8') : typeof vb.value === 'number' ? vb.value : String(vb.value),
  }));
}
