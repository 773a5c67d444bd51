/**
 * The Sparkplug B payload schema (Eclipse Sparkplug 3.0, §6.4 "Payload"), written from the
 * specification's field table and compiled at load time by protobufjs. Field numbers and types
 * must match the spec exactly: other Sparkplug hosts decode what we send.
 */
import protobuf from 'protobufjs';

// uint64 fields (timestamps, seq, alias) decode to plain numbers rather than Long objects: every
// value we use fits in 2^53, and this keeps the ingest hot path free of per-field allocations.
protobuf.util.Long = null as unknown as typeof protobuf.util.Long;
protobuf.configure();

const PROTO = `
syntax = "proto2";
package org.eclipse.tahu.protobuf;

message Payload {
  message PropertyValue {
    optional uint32 type = 1;
    optional bool is_null = 2;
    oneof value {
      uint32 int_value = 3;
      uint64 long_value = 4;
      float float_value = 5;
      double double_value = 6;
      bool boolean_value = 7;
      string string_value = 8;
      PropertySet propertyset_value = 9;
      PropertySetList propertysets_value = 10;
    }
  }
  message PropertySet {
    repeated string keys = 1;
    repeated PropertyValue values = 2;
  }
  message PropertySetList {
    repeated PropertySet propertyset = 1;
  }
  message MetaData {
    optional bool is_multi_part = 1;
    optional string content_type = 2;
    optional uint64 size = 3;
    optional uint64 seq = 4;
    optional string file_name = 5;
    optional string file_type = 6;
    optional string md5 = 7;
    optional string description = 8;
  }
  message Metric {
    optional string name = 1;
    optional uint64 alias = 2;
    optional uint64 timestamp = 3;
    optional uint32 datatype = 4;
    optional bool is_historical = 5;
    optional bool is_transient = 6;
    optional bool is_null = 7;
    optional MetaData metadata = 8;
    optional PropertySet properties = 9;
    oneof value {
      uint32 int_value = 10;
      uint64 long_value = 11;
      float float_value = 12;
      double double_value = 13;
      bool boolean_value = 14;
      string string_value = 15;
      bytes bytes_value = 16;
    }
  }
  optional uint64 timestamp = 1;
  repeated Metric metrics = 2;
  optional uint64 seq = 3;
  optional string uuid = 4;
  optional bytes body = 5;
}
`;

const root = protobuf.parse(PROTO, { keepCase: true }).root;
export const PayloadType = root.lookupType('org.eclipse.tahu.protobuf.Payload');

/** Sparkplug B DataType enumeration (spec §6.4.16). */
export const DataType = {
  Int8: 1, Int16: 2, Int32: 3, Int64: 4,
  UInt8: 5, UInt16: 6, UInt32: 7, UInt64: 8,
  Float: 9, Double: 10, Boolean: 11, String: 12,
  DateTime: 13, Text: 14,
} as const;

export interface PropertyValueMessage {
  type?: number;
  is_null?: boolean;
  int_value?: number;
  long_value?: number;
  float_value?: number;
  double_value?: number;
  boolean_value?: boolean;
  string_value?: string;
}

export interface PropertySetMessage {
  keys: string[];
  values: PropertyValueMessage[];
}

export interface MetricMessage {
  name?: string;
  alias?: number;
  timestamp?: number;
  datatype?: number;
  is_historical?: boolean;
  is_transient?: boolean;
  is_null?: boolean;
  properties?: PropertySetMessage;
  int_value?: number;
  long_value?: number;
  float_value?: number;
  double_value?: number;
  boolean_value?: boolean;
  string_value?: string;
  bytes_value?: Uint8Array;
}

export interface PayloadMessage {
  timestamp?: number;
  metrics: MetricMessage[];
  seq?: number;
  uuid?: string;
  body?: Uint8Array;
}
