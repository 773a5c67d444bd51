/**
 * What the rollout engine needs from the rest of the server, each as a narrow port (STYLE.md §1)
 * passed in at construction. fleet-adapters.ts implements the fleet's; the image repository
 * implements ReleaseCatalog, the director Instructor.
 */
import type { BundleManifest, InstructedImage, UpdateStream } from '@shellguard/protocol';

/** What the image repository says is genuine (TUF targets, offline-signed). */
export interface ReleaseCatalog {
  /** The signed target of this version, or undefined when it is not a genuine target. */
  find(product: string, stream: UpdateStream, version: string): Promise<{ targetName: string; length: number; sha256: string; manifest: BundleManifest } | undefined>;
}

export interface GroupDirectory {
  /** Devices claimed into the group and neither revoked nor quarantined. */
  devicesInGroup(group: string): Promise<string[]>;
}

/** The attestation verifier's reference values (RFC 9334 §8.3) of a group. */
export interface ReferenceValues {
  /**
   * Lets the release's component digests pass attestation in the group, beside those already
   * allowed (the old release stays allowed: it is where a failed device rolls back to).
   */
  allow(group: string, manifest: BundleManifest, actor: string): Promise<void>;
}

export interface AttestedSoftware {
  swversion?: string;
  measurements: { component: string; digest: string }[];
}

export interface EvidenceCheck {
  /** The newest passing attestation of the device at or after `sinceMs`, if any. */
  attestedSince(deviceId: string, sinceMs: number): Promise<AttestedSoftware | undefined>;
}

export interface DeviceInstruction {
  deploymentId: string;
  images: InstructedImage[];
  healthWindowSeconds: number;
  /** Install now (inside a maintenance window) or only download and wait for another instruction. */
  installNow: boolean;
}

/** The director: signs an instruction for one device and delivers it. */
export interface Instructor {
  instruct(deviceId: string, instruction: DeviceInstruction): Promise<unknown>;
}

