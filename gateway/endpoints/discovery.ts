import { projectOf, type Endpoint } from "../endpoint.js";
import { errorJson, publicJson, toWireError } from "../respond.js";

/**
 * Discovery: OpenID Connect Discovery §4 and RFC 8414 §3 (path-appended and,
 * in app.ts, path-inserted forms), one document for both. Every value is the
 * core's (GetServerMetadata); the web origins and the callback page it also
 * answers are not metadata and stay out.
 */
export const discovery: Endpoint = (deps) => async (ctx) => {
  try {
    const m = await deps.services.tokens.getServerMetadata(projectOf(ctx));
    publicJson(ctx, {
      issuer: m.issuer,
      authorization_endpoint: m.authorizationEndpoint,
      token_endpoint: m.tokenEndpoint,
      jwks_uri: m.jwksUri,
      userinfo_endpoint: m.userinfoEndpoint,
      introspection_endpoint: m.introspectionEndpoint,
      revocation_endpoint: m.revocationEndpoint,
      end_session_endpoint: m.endSessionEndpoint,
      pushed_authorization_request_endpoint: m.pushedAuthorizationRequestEndpoint,
      require_pushed_authorization_requests: m.requirePushedAuthorizationRequests,
      // RFC 8414 §2: only where the project lets clients register themselves (RFC 7591).
      ...(m.registrationEndpoint !== "" ? { registration_endpoint: m.registrationEndpoint } : {}),
      response_types_supported: m.responseTypesSupported,
      response_modes_supported: m.responseModesSupported,
      grant_types_supported: m.grantTypesSupported,
      code_challenge_methods_supported: m.codeChallengeMethodsSupported,
      token_endpoint_auth_methods_supported: m.tokenEndpointAuthMethodsSupported,
      introspection_endpoint_auth_methods_supported: m.introspectionEndpointAuthMethodsSupported,
      revocation_endpoint_auth_methods_supported: m.revocationEndpointAuthMethodsSupported,
      token_endpoint_auth_signing_alg_values_supported: m.tokenEndpointAuthSigningAlgValuesSupported,
      introspection_endpoint_auth_signing_alg_values_supported: m.tokenEndpointAuthSigningAlgValuesSupported,
      revocation_endpoint_auth_signing_alg_values_supported: m.tokenEndpointAuthSigningAlgValuesSupported,
      scopes_supported: m.scopesSupported,
      claims_supported: m.claimsSupported,
      claim_types_supported: m.claimTypesSupported,
      dpop_signing_alg_values_supported: m.dpopSigningAlgValuesSupported,
      subject_types_supported: m.subjectTypesSupported,
      id_token_signing_alg_values_supported: m.idTokenSigningAlgValuesSupported,
      acr_values_supported: m.acrValuesSupported,
      prompt_values_supported: m.promptValuesSupported,
      ui_locales_supported: m.uiLocalesSupported,
      claims_locales_supported: m.claimsLocalesSupported,
      authorization_response_iss_parameter_supported: m.authorizationResponseIssParameterSupported,
      request_parameter_supported: m.requestParameterSupported,
      request_uri_parameter_supported: m.requestUriParameterSupported,
      claims_parameter_supported: m.claimsParameterSupported,
      backchannel_logout_supported: m.backchannelLogoutSupported,
      backchannel_logout_session_supported: m.backchannelLogoutSessionSupported,
      // draft-ietf-oauth-client-id-metadata-document §5: said only where the project accepts them.
      ...(m.clientIdMetadataDocumentSupported ? { client_id_metadata_document_supported: true } : {}),
    });
  } catch (err) {
    errorJson(ctx, toWireError(err, deps.logger));
  }
};
