import HTTPTypes
import Hummingbird

/// Over TLS, tells browsers to use HTTPS only for this host for a year (`Strict-Transport-Security`), so a
/// later visit typed as http:// is not open to a downgrade.
struct StrictTransportSecurityMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response = try await next(request, context)
        response.headers[.strictTransportSecurity] = "max-age=31536000"
        return response
    }
}
