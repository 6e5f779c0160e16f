"""'Send with Google' and 'Send with Microsoft': OAuth 2.0 sign-in (authorization code, PKCE, state) through
Authlib, the sign-ins waiting for the provider's answer, and the supporter's pages for them."""
