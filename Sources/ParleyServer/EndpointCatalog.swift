import ParleyJSON
import Synchronization

/// Every endpoint the router serves, recorded as it is registered, and the OpenAPI 3 description made
/// from them (`GET /openapi.json`).
final class EndpointCatalog: Sendable {
    struct Endpoint: Sendable {
        var name: String
        var readable: Bool
        var created: Bool
    }

    private let endpoints = Mutex<[Endpoint]>([])

    func add(_ endpoint: Endpoint) { endpoints.withLock { $0.append(endpoint) } }

    var all: [Endpoint] { endpoints.withLock { $0 } }

    /// Bodies are JSON objects whose fields each endpoint documents in docs/api.md; every response is a JSON
    /// object, errors DevRev's `{type, message}`.
    func openAPI() -> JSONValue {
        let error: JSONValue = .object([
            "type": .string("object"), "required": .array([.string("type"), .string("message")]),
            "properties": .object(["type": .object(["type": .string("string")]), "message": .object(["type": .string("string")])]),
        ])
        let object: JSONValue = .object(["type": .string("object")])
        func errorResponse(_ description: String) -> JSONValue {
            .object(["description": .string(description), "content": .object(["application/json": .object(["schema": .object(["$ref": .string("#/components/schemas/error")])])])])
        }
        func responses(success: String) -> JSONValue {
            .object([
                success: .object(["description": .string("success"),
                                  "content": .object(["application/json": .object(["schema": object])])]),
                "400": errorResponse("bad request"), "401": errorResponse("unauthenticated"),
                "403": errorResponse("forbidden"), "404": errorResponse("not found"), "409": errorResponse("conflict"),
                "413": errorResponse("request too large"), "429": errorResponse("too many requests"),
            ])
        }
        var paths: [String: JSONValue] = [:]
        for endpoint in all.sorted(by: { $0.name < $1.name }) {
            var operations: [String: JSONValue] = [
                "post": .object([
                    "operationId": .string(endpoint.name),
                    "requestBody": .object(["required": .bool(false),
                                            "content": .object(["application/json": .object(["schema": object])])]),
                    "responses": responses(success: endpoint.created ? "201" : "200"),
                ]),
            ]
            if endpoint.readable {
                operations["get"] = .object(["operationId": .string(endpoint.name + "-get"), "responses": responses(success: "200")])
            }
            paths["/" + endpoint.name] = .object(operations)
        }
        paths["/health"] = .object(["get": .object(["operationId": .string("health"), "security": .array([]),
                                                    "responses": .object(["200": .object(["description": .string("ok"),
                                                        "content": .object(["application/json": .object(["schema": object])])])])])])
        paths["/events.stream"] = .object(["get": .object([
            "operationId": .string("events-stream"),
            "parameters": .array([
                .object(["name": .string("after"), "in": .string("query"), "schema": .object(["type": .string("integer")])]),
                .object(["name": .string("follow"), "in": .string("query"), "schema": .object(["type": .string("boolean")])]),
            ]),
            "responses": .object(["200": .object(["description": .string("server-sent events"),
                                                  "content": .object(["text/event-stream": .object(["schema": .object(["type": .string("string")])])])]),
                                  "401": errorResponse("unauthenticated")]),
        ])])
        paths["/openapi.json"] = .object(["get": .object(["operationId": .string("openapi"), "security": .array([]),
                                                          "responses": .object(["200": .object(["description": .string("this document"),
                                                              "content": .object(["application/json": .object(["schema": object])])])])])])
        return .object([
            "openapi": .string("3.0.3"),
            "info": .object(["title": .string("Parley"), "version": .string("1"),
                             "description": .string("A support-conversation server speaking DevRev's public API. Fields: docs/api.md.")]),
            "paths": .object(paths),
            "components": .object([
                "schemas": .object(["error": error]),
                "securitySchemes": .object(["bearer": .object(["type": .string("http"), "scheme": .string("bearer")])]),
            ]),
            "security": .array([.object(["bearer": .array([])])]),
        ])
    }
}
