/**
 * One edit of a serialised ONNX model (protobuf, onnx.proto3): declaring an intermediate tensor
 * as one more graph output, so an inference session returns it too (onnxruntime returns only
 * graph outputs). Used to read the PP-OCRv4 recogniser's features (the input of its final
 * layer) for the plate head (stages.ts) without shipping a second copy of the model.
 *
 * Wire format (protobuf encoding guide): a message is a sequence of fields, each a varint tag
 * (field number << 3 | wire type) followed by a varint (type 0), 8 bytes (type 1), a varint
 * length and that many bytes (type 2) or 4 bytes (type 5). ModelProto.graph is field 7;
 * GraphProto.output is field 12, a ValueInfoProto { name = 1, type = 2 }, TypeProto
 * { tensor_type = 1 }, TypeProto.Tensor { elem_type = 1 } (1 = FLOAT). Fields may be appended
 * to a message in any order, so the new output is appended at the end of the graph.
 */

function readVarint(b: Uint8Array, pos: number): [value: number, next: number] {
  let v = 0, mul = 1;
  for (;;) {
    if (pos >= b.length) throw new RangeError("truncated protobuf varint");
    const byte = b[pos++];
    v += (byte & 0x7f) * mul;
    if (!(byte & 0x80)) return [v, pos];
    mul *= 128;
  }
}

function varint(v: number): number[] {
  const out: number[] = [];
  while (v >= 0x80) {
    out.push((v % 128) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return out;
}

/** A length-delimited field: tag, length, bytes. */
function lengthDelimited(field: number, bytes: Uint8Array | number[]): number[] {
  return [...varint((field << 3) | 2), ...varint(bytes.length), ...bytes];
}

/**
 * The model `model` (serialised ModelProto) with the tensor `name` declared as one more graph
 * output of element type float (no shape). Throws RangeError when the bytes are not a
 * ModelProto with a graph. The tensor must exist in the graph; onnxruntime reports it at
 * session creation otherwise.
 */
export function withFloatOutput(model: Uint8Array, name: string): Uint8Array {
  let pos = 0;
  while (pos < model.length) {
    const start = pos;
    const [tag, afterTag] = readVarint(model, pos);
    const wire = tag & 7, field = Math.floor(tag / 8);
    pos = afterTag;
    if (wire === 0) pos = readVarint(model, pos)[1];
    else if (wire === 1) pos += 8;
    else if (wire === 5) pos += 4;
    else if (wire === 2) {
      const [len, body] = readVarint(model, pos);
      pos = body + len;
      if (pos > model.length) throw new RangeError("truncated protobuf field");
      if (field === 7) {
        const tensorType = lengthDelimited(1, [0x08, 0x01]); // TypeProto.tensor_type { elem_type: FLOAT }
        const valueInfo = [...lengthDelimited(1, new TextEncoder().encode(name)), ...lengthDelimited(2, tensorType)];
        const output = lengthDelimited(12, valueInfo);
        const head = [...varint((7 << 3) | 2), ...varint(len + output.length)];
        const out = new Uint8Array(start + head.length + len + output.length + (model.length - pos));
        let o = 0;
        for (const part of [model.subarray(0, start), head, model.subarray(body, pos), output, model.subarray(pos)]) {
          out.set(part, o);
          o += part.length;
        }
        return out;
      }
    } else throw new RangeError(`unsupported protobuf wire type ${wire}`);
  }
  throw new RangeError("not an ONNX model: no graph");
}
