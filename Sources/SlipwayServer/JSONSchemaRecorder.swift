import Foundation
import SlipwayCore

/// Derives the JSON Schema (2020-12, as OpenAPI 3.1 uses it) of an API answer from the
/// Swift type the CLI decodes it with, by decoding one value of the type with a decoder
/// that records what the type's `init(from:)` asks for: each key, whether it is required
/// (`decode`) or optional (`decodeIfPresent`), and the schema of its value. So the document
/// says what the code reads, and the contract test (Schemathesis' response conformance
/// check) compares it with what the server writes.
///
/// A struct becomes a named schema (`components/schemas`, named after the type) and is
/// referred to; enumerations and values with a textual form of their own say their schema
/// through `JSONSchemaLeaf` (a `CaseIterable` enumeration with `String` raw values needs
/// nothing); `[String: V]` is an object of V's.
final class JSONSchemaRecorder {
    /// Named object schemas, by type name.
    private(set) var components: [String: [String: Any]] = [:]

    struct Failure: Error, CustomStringConvertible {
        let path: [String]
        let type: String
        let error: String
        var description: String { "\(path.isEmpty ? "(the answer)" : path.joined(separator: ".")) (\(type)): \(error)" }
    }

    /// The schema of `T` (a `$ref` for a struct) and a value of it to hand back to the
    /// decoding that asked.
    func schema<T: Decodable>(for type: T.Type, path: [String] = []) throws -> ([String: Any], T) {
        if let leaf = T.self as? any JSONSchemaLeaf.Type {
            return (leaf.jsonSchema, leaf.schemaPlaceholder as! T)
        }
        if let enumeration = T.self as? any (CaseIterable & RawRepresentable).Type, let (schema, value) = Self.enumeration(enumeration) {
            return (schema, value as! T)
        }
        if let map = T.self as? any JSONSchemaStringMap.Type {
            return (["type": "object", "additionalProperties": try map.valueSchema(self, path: path + ["*"])], map.emptyMap as! T)
        }
        // Nothing in an API answer refers to itself; a deep path means a type that does.
        guard path.count < 32 else { throw Failure(path: path, type: "\(T.self)", error: "nested too deep (a type that contains itself needs a JSONSchemaLeaf)") }
        let decoder = SchemaDecoder(recorder: self, path: path)
        let value: T
        do {
            value = try T(from: decoder)
        } catch let failure as Failure {
            throw failure
        } catch {
            throw Failure(path: path, type: "\(T.self)", error: "its init(from:) refused the recorder's placeholder values (\(error)); conform it to JSONSchemaLeaf")
        }
        guard let recorded = decoder.recorded else { return ([:], value) }
        if case .object(let box) = recorded {
            let name = Self.name(of: T.self)
            components[name] = box.schema
            return (["$ref": "#/components/schemas/\(name)"], value)
        }
        return (recorded.schema, value)
    }

    /// An enumeration with `String` raw values: one of its cases' values.
    static func enumeration<E: CaseIterable & RawRepresentable>(_ type: E.Type) -> ([String: Any], E)? {
        let values = E.allCases.compactMap { $0.rawValue as? String }
        guard let first = E.allCases.first, values.count == E.allCases.count else { return nil }
        return (["type": "string", "enum": values], first)
    }

    /// `RolloutRecord`, `Controller.GateReport`: the type's name without its module.
    static func name(of type: Any.Type) -> String {
        let full = String(reflecting: type)
        let parts = full.split(separator: ".")
        return parts.count > 1 && parts[0].hasPrefix("Slipway") ? parts.dropFirst().joined(separator: ".") : full
    }
}

/// A type whose schema is given rather than recorded: enumerations (a `String` raw value
/// and `CaseIterable` get it for free) and values with a textual form of their own.
protocol JSONSchemaLeaf {
    static var jsonSchema: [String: Any] { get }
    /// Any valid value, handed to the decoding that asked for one.
    static var schemaPlaceholder: Self { get }
}

extension JSONSchemaLeaf where Self: CaseIterable & RawRepresentable, RawValue == String {
    static var jsonSchema: [String: Any] { ["type": "string", "enum": allCases.map(\.rawValue)] }
    static var schemaPlaceholder: Self { allCases.first! }
}

/// `[String: V]`: decoded through keys the recorder cannot know, so it is told.
protocol JSONSchemaStringMap {
    static func valueSchema(_ recorder: JSONSchemaRecorder, path: [String]) throws -> [String: Any]
    static var emptyMap: Self { get }
}

extension Dictionary: JSONSchemaStringMap where Key == String, Value: Decodable {
    static func valueSchema(_ recorder: JSONSchemaRecorder, path: [String]) throws -> [String: Any] {
        try recorder.schema(for: Value.self, path: path).0
    }
    static var emptyMap: Self { [:] }
}

/// What one value's decoding asked for.
private enum Recorded {
    case object(ObjectBox)
    case array(ArrayBox)
    case fixed([String: Any])
    case decoder(SchemaDecoder)

    var schema: [String: Any] {
        switch self {
        case .object(let box): return box.schema
        case .array(let box): return ["type": "array", "items": box.items?.schema ?? [:]]
        case .fixed(let schema): return schema
        case .decoder(let decoder): return decoder.recorded?.schema ?? [:]
        }
    }
}

private final class ObjectBox {
    var properties: [String: (Recorded, required: Bool)] = [:]
    /// The decoding asked whether a key is there: it picks one of several shapes by the
    /// keys present, and the recording saw only one of them. Such an object is documented
    /// as any object rather than as the one shape seen.
    var branches = false

    var schema: [String: Any] {
        if branches { return ["type": "object"] }
        var rendered: [String: Any] = [:]
        for (key, (value, required)) in properties {
            let schema = value.schema
            // An optional value may be left out or written as null.
            rendered[key] = required || schema.isEmpty ? schema : ["anyOf": [schema, ["type": "null"]]]
        }
        var schema: [String: Any] = ["type": "object", "properties": rendered]
        let required = properties.filter { $0.value.required }.map(\.key).sorted()
        if !required.isEmpty { schema["required"] = required }
        return schema
    }
}

private final class ArrayBox {
    var items: Recorded?
}

private struct PathKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(_ string: String) { stringValue = string }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

/// The recording decoder of one value.
private final class SchemaDecoder: Decoder {
    let recorder: JSONSchemaRecorder
    let path: [String]
    var recorded: Recorded?
    var codingPath: [any CodingKey] { path.map(PathKey.init) }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    init(recorder: JSONSchemaRecorder, path: [String]) {
        self.recorder = recorder
        self.path = path
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        let box: ObjectBox
        if case .object(let existing) = recorded { box = existing } else { box = ObjectBox(); recorded = .object(box) }
        return KeyedDecodingContainer(KeyedRecorder<Key>(recorder: recorder, path: path, box: box))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        let box = ArrayBox()
        recorded = .array(box)
        return UnkeyedRecorder(recorder: recorder, path: path, box: box)
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer {
        SingleRecorder(decoder: self)
    }
}

/// The schema of a primitive and its placeholder value, or nil for another type.
private func primitive<T>(_ type: T.Type) -> ([String: Any], T)? {
    switch type {
    case is String.Type: return (["type": "string"], "x" as! T)
    case is Bool.Type: return (["type": "boolean"], false as! T)
    case is Double.Type: return (["type": "number"], 0.0 as! T)
    case is Float.Type: return (["type": "number"], Float(0) as! T)
    case is Int.Type: return (["type": "integer"], 0 as! T)
    case is Int8.Type: return (["type": "integer"], Int8(0) as! T)
    case is Int16.Type: return (["type": "integer"], Int16(0) as! T)
    case is Int32.Type: return (["type": "integer"], Int32(0) as! T)
    case is Int64.Type: return (["type": "integer"], Int64(0) as! T)
    case is UInt.Type: return (["type": "integer", "minimum": 0], UInt(0) as! T)
    case is UInt8.Type: return (["type": "integer", "minimum": 0], UInt8(0) as! T)
    case is UInt16.Type: return (["type": "integer", "minimum": 0], UInt16(0) as! T)
    case is UInt32.Type: return (["type": "integer", "minimum": 0], UInt32(0) as! T)
    case is UInt64.Type: return (["type": "integer", "minimum": 0], UInt64(0) as! T)
    default: return nil
    }
}

private struct KeyedRecorder<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let recorder: JSONSchemaRecorder
    let path: [String]
    let box: ObjectBox
    var codingPath: [any CodingKey] { path.map(PathKey.init) }
    var allKeys: [Key] { [] }

    func contains(_ key: Key) -> Bool {
        box.branches = true
        return true
    }
    func decodeNil(forKey key: Key) throws -> Bool { false }

    func value<T: Decodable>(_ type: T.Type, _ key: Key, required: Bool) throws -> T {
        if let (schema, value) = primitive(T.self) {
            record(key, .fixed(schema), required: required)
            return value
        }
        let (schema, value) = try recorder.schema(for: T.self, path: path + [key.stringValue])
        record(key, .fixed(schema), required: required)
        return value
    }

    func record(_ key: Key, _ value: Recorded, required: Bool) {
        // Read twice (a custom decoder's fallback): required if any read requires it.
        let before = box.properties[key.stringValue]?.required ?? false
        box.properties[key.stringValue] = (value, required || before)
    }

    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T { try value(type, key, required: true) }
    func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool { try value(type, key, required: true) }
    func decode(_ type: String.Type, forKey key: Key) throws -> String { try value(type, key, required: true) }
    func decode(_ type: Double.Type, forKey key: Key) throws -> Double { try value(type, key, required: true) }
    func decode(_ type: Float.Type, forKey key: Key) throws -> Float { try value(type, key, required: true) }
    func decode(_ type: Int.Type, forKey key: Key) throws -> Int { try value(type, key, required: true) }
    func decode(_ type: Int8.Type, forKey key: Key) throws -> Int8 { try value(type, key, required: true) }
    func decode(_ type: Int16.Type, forKey key: Key) throws -> Int16 { try value(type, key, required: true) }
    func decode(_ type: Int32.Type, forKey key: Key) throws -> Int32 { try value(type, key, required: true) }
    func decode(_ type: Int64.Type, forKey key: Key) throws -> Int64 { try value(type, key, required: true) }
    func decode(_ type: UInt.Type, forKey key: Key) throws -> UInt { try value(type, key, required: true) }
    func decode(_ type: UInt8.Type, forKey key: Key) throws -> UInt8 { try value(type, key, required: true) }
    func decode(_ type: UInt16.Type, forKey key: Key) throws -> UInt16 { try value(type, key, required: true) }
    func decode(_ type: UInt32.Type, forKey key: Key) throws -> UInt32 { try value(type, key, required: true) }
    func decode(_ type: UInt64.Type, forKey key: Key) throws -> UInt64 { try value(type, key, required: true) }

    // Optional keys: recorded, and absent for the decoding (no value to build).
    func decodeIfPresent<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T? { _ = try value(type, key, required: false); return nil }
    func decodeIfPresent(_ type: Bool.Type, forKey key: Key) throws -> Bool? { _ = try value(type, key, required: false); return nil }
    func decodeIfPresent(_ type: String.Type, forKey key: Key) throws -> String? { _ = try value(type, key, required: false); return nil }
    func decodeIfPresent(_ type: Double.Type, forKey key: Key) throws -> Double? { _ = try value(type, key, required: false); return nil }
    func decodeIfPresent(_ type: Float.Type, forKey key: Key) throws -> Float? { _ = try value(type, key, required: false); return nil }
    func decodeIfPresent(_ type: Int.Type, forKey key: Key) throws -> Int? { _ = try value(type, key, required: false); return nil }
    func decodeIfPresent(_ type: Int8.Type, forKey key: Key) throws -> Int8? { _ = try value(type, key, required: false); return nil }
    func decodeIfPresent(_ type: Int16.Type, forKey key: Key) throws -> Int16? { _ = try value(type, key, required: false); return nil }
    func decodeIfPresent(_ type: Int32.Type, forKey key: Key) throws -> Int32? { _ = try value(type, key, required: false); return nil }
    func decodeIfPresent(_ type: Int64.Type, forKey key: Key) throws -> Int64? { _ = try value(type, key, required: false); return nil }
    func decodeIfPresent(_ type: UInt.Type, forKey key: Key) throws -> UInt? { _ = try value(type, key, required: false); return nil }
    func decodeIfPresent(_ type: UInt8.Type, forKey key: Key) throws -> UInt8? { _ = try value(type, key, required: false); return nil }
    func decodeIfPresent(_ type: UInt16.Type, forKey key: Key) throws -> UInt16? { _ = try value(type, key, required: false); return nil }
    func decodeIfPresent(_ type: UInt32.Type, forKey key: Key) throws -> UInt32? { _ = try value(type, key, required: false); return nil }
    func decodeIfPresent(_ type: UInt64.Type, forKey key: Key) throws -> UInt64? { _ = try value(type, key, required: false); return nil }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
        let nested = ObjectBox()
        record(key, .object(nested), required: true)
        return KeyedDecodingContainer(KeyedRecorder<NestedKey>(recorder: recorder, path: path + [key.stringValue], box: nested))
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        let nested = ArrayBox()
        record(key, .array(nested), required: true)
        return UnkeyedRecorder(recorder: recorder, path: path + [key.stringValue], box: nested)
    }

    func superDecoder() throws -> any Decoder {
        let decoder = SchemaDecoder(recorder: recorder, path: path + ["super"])
        box.properties["super"] = (.decoder(decoder), true)
        return decoder
    }

    func superDecoder(forKey key: Key) throws -> any Decoder {
        let decoder = SchemaDecoder(recorder: recorder, path: path + [key.stringValue])
        record(key, .decoder(decoder), required: true)
        return decoder
    }
}

/// An array: its items' schema is the first element's; it then reports its end.
private struct UnkeyedRecorder: UnkeyedDecodingContainer {
    let recorder: JSONSchemaRecorder
    let path: [String]
    let box: ArrayBox
    var codingPath: [any CodingKey] { path.map(PathKey.init) }
    var count: Int? { 1 }
    var currentIndex = 0
    var isAtEnd: Bool { currentIndex > 0 }

    mutating func decodeNil() throws -> Bool { false }

    mutating func primitiveValue<T>(_ type: T.Type) -> T {
        currentIndex += 1
        let (schema, value) = primitive(T.self)!
        box.items = .fixed(schema)
        return value
    }

    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T {
        currentIndex += 1
        if let (schema, value) = primitive(T.self) {
            box.items = .fixed(schema)
            return value
        }
        let (schema, value) = try recorder.schema(for: T.self, path: path + ["[]"])
        box.items = .fixed(schema)
        return value
    }

    mutating func decode(_ type: Bool.Type) throws -> Bool { primitiveValue(type) }
    mutating func decode(_ type: String.Type) throws -> String { primitiveValue(type) }
    mutating func decode(_ type: Double.Type) throws -> Double { primitiveValue(type) }
    mutating func decode(_ type: Float.Type) throws -> Float { primitiveValue(type) }
    mutating func decode(_ type: Int.Type) throws -> Int { primitiveValue(type) }
    mutating func decode(_ type: Int8.Type) throws -> Int8 { primitiveValue(type) }
    mutating func decode(_ type: Int16.Type) throws -> Int16 { primitiveValue(type) }
    mutating func decode(_ type: Int32.Type) throws -> Int32 { primitiveValue(type) }
    mutating func decode(_ type: Int64.Type) throws -> Int64 { primitiveValue(type) }
    mutating func decode(_ type: UInt.Type) throws -> UInt { primitiveValue(type) }
    mutating func decode(_ type: UInt8.Type) throws -> UInt8 { primitiveValue(type) }
    mutating func decode(_ type: UInt16.Type) throws -> UInt16 { primitiveValue(type) }
    mutating func decode(_ type: UInt32.Type) throws -> UInt32 { primitiveValue(type) }
    mutating func decode(_ type: UInt64.Type) throws -> UInt64 { primitiveValue(type) }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey> {
        currentIndex += 1
        let nested = ObjectBox()
        box.items = .object(nested)
        return KeyedDecodingContainer(KeyedRecorder<NestedKey>(recorder: recorder, path: path + ["[]"], box: nested))
    }

    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
        currentIndex += 1
        let nested = ArrayBox()
        box.items = .array(nested)
        return UnkeyedRecorder(recorder: recorder, path: path + ["[]"], box: nested)
    }

    mutating func superDecoder() throws -> any Decoder {
        currentIndex += 1
        let decoder = SchemaDecoder(recorder: recorder, path: path + ["[]"])
        box.items = .decoder(decoder)
        return decoder
    }
}

private struct SingleRecorder: SingleValueDecodingContainer {
    let decoder: SchemaDecoder
    var codingPath: [any CodingKey] { decoder.codingPath }

    func decodeNil() -> Bool { false }

    func primitiveValue<T>(_ type: T.Type) -> T {
        let (schema, value) = primitive(T.self)!
        decoder.recorded = .fixed(schema)
        return value
    }

    func decode<T: Decodable>(_ type: T.Type) throws -> T {
        if let (schema, value) = primitive(T.self) {
            decoder.recorded = .fixed(schema)
            return value
        }
        let (schema, value) = try decoder.recorder.schema(for: T.self, path: decoder.path)
        decoder.recorded = .fixed(schema)
        return value
    }

    func decode(_ type: Bool.Type) throws -> Bool { primitiveValue(type) }
    func decode(_ type: String.Type) throws -> String { primitiveValue(type) }
    func decode(_ type: Double.Type) throws -> Double { primitiveValue(type) }
    func decode(_ type: Float.Type) throws -> Float { primitiveValue(type) }
    func decode(_ type: Int.Type) throws -> Int { primitiveValue(type) }
    func decode(_ type: Int8.Type) throws -> Int8 { primitiveValue(type) }
    func decode(_ type: Int16.Type) throws -> Int16 { primitiveValue(type) }
    func decode(_ type: Int32.Type) throws -> Int32 { primitiveValue(type) }
    func decode(_ type: Int64.Type) throws -> Int64 { primitiveValue(type) }
    func decode(_ type: UInt.Type) throws -> UInt { primitiveValue(type) }
    func decode(_ type: UInt8.Type) throws -> UInt8 { primitiveValue(type) }
    func decode(_ type: UInt16.Type) throws -> UInt16 { primitiveValue(type) }
    func decode(_ type: UInt32.Type) throws -> UInt32 { primitiveValue(type) }
    func decode(_ type: UInt64.Type) throws -> UInt64 { primitiveValue(type) }
}

extension ListenAddress: JSONSchemaLeaf {
    static var jsonSchema: [String: Any] { ["type": "string", "description": "HOST:PORT (IPv6 hosts in brackets)"] }
    static var schemaPlaceholder: ListenAddress { ListenAddress(host: "127.0.0.1", port: 8080) }
}

/// A threshold (`metric` with `max`/`min`), a baseline comparison (`compare`) or a
/// provider query (`provider`): three shapes, told apart by their keys.
extension AnalysisCheck: JSONSchemaLeaf {
    static var jsonSchema: [String: Any] { ["type": "object", "description": "a threshold, baseline comparison or provider check, as configured"] }
    static var schemaPlaceholder: AnalysisCheck { .threshold(ThresholdCheck(metric: AnalysisMetric.allCases[0], .max(1))) }
}
