import Yams

/// The one merge rule of environments: mappings merge key by key, recursively; any other
/// value (a scalar, a list) the environment gives replaces the service's. A `strategy` of
/// another kind replaces the service's strategy whole (it names exactly one kind).
enum EnvironmentMerge {
    static func merge(_ base: Node, overrides: [String: Node], order: [String]) -> Node {
        guard case .mapping(var mapping) = base else { return base }
        for key in order {
            guard let value = overrides[key] else { continue }
            let keyNode = Node(key)
            if let index = mapping.firstIndex(where: { $0.key.scalar?.string == key }) {
                let current = mapping[index].value
                let merged = key == "strategy" && !sameKind(current, value) ? value : deepMerge(current, value)
                mapping[index] = (mapping[index].key, merged)
            } else {
                var pairs = Array(mapping)
                pairs.append((keyNode, value))
                mapping = Node.Mapping(pairs, mapping.tag, mapping.style, mapping.mark)
            }
        }
        return .mapping(mapping)
    }

    static func deepMerge(_ base: Node, _ override: Node) -> Node {
        guard case .mapping(var mapping) = base, case .mapping(let extra) = override else { return override }
        var pairs = Array(mapping)
        for (key, value) in extra {
            if let index = pairs.firstIndex(where: { $0.0.scalar?.string == key.scalar?.string }) {
                pairs[index] = (pairs[index].0, deepMerge(pairs[index].1, value))
            } else {
                pairs.append((key, value))
            }
        }
        mapping = Node.Mapping(pairs, mapping.tag, mapping.style, mapping.mark)
        return .mapping(mapping)
    }

    private static func sameKind(_ a: Node, _ b: Node) -> Bool {
        guard case .mapping(let x) = a, case .mapping(let y) = b else { return false }
        return x.keys.compactMap(\.scalar?.string) == y.keys.compactMap(\.scalar?.string)
    }
}
