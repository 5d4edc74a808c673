package sandbox

import "net/http"

// identity is the identity URL a token response names (GET /id/{org}/{user}) and the OpenID
// Connect userinfo endpoint (GET /services/oauth2/userinfo): clients (jsforce's identity(),
// the sf CLI) ask them who they are logged in as. Neither counts as an API call.
func (s *Server) identity(openID bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodPost {
			writeError(w, errMethod(r.Method, "GET", "POST"))
			return
		}
		_, userID, ok := s.authenticate(r)
		if tok := r.URL.Query().Get("oauth_token"); !ok && tok != "" {
			// The identity URL also takes the token as a parameter (jsforce sends both).
			userID, ok = s.userOfToken(tok)
		}
		if !ok {
			// Salesforce answers a bad token here with plain text, not the REST error array.
			w.Header().Set("Content-Type", "text/plain")
			w.WriteHeader(http.StatusForbidden)
			_, _ = w.Write([]byte("Bad_OAuth_Token"))
			return
		}
		if !openID && (r.PathValue("org") != s.orgID || r.PathValue("user") != userID) {
			writeError(w, errNotFound())
			return
		}
		s.mu.Lock()
		_, user := view{s: s.store}.ByID(userID)
		s.mu.Unlock()
		if user == nil {
			writeError(w, errNotFound())
			return
		}
		instance := "http://" + r.Host
		idURL := s.identityURL(r, userID)
		rest := instance + "/services/data/v{version}/"
		urls := map[string]string{
			"rest": rest, "sobjects": rest + "sobjects/", "query": rest + "query/",
			"search": rest + "search/", "recent": rest + "recent/", "profile": instance + "/" + userID,
		}
		str := func(f string) string { v, _ := user[f].(string); return v }
		common := map[string]any{
			"user_id": userID, "organization_id": s.orgID, "email": str("Email"), "email_verified": true,
			"active": user["IsActive"], "user_type": "STANDARD", "language": "en_US", "locale": "en_US",
			"utcOffset": 0, "urls": urls,
		}
		if openID {
			common["sub"], common["preferred_username"], common["name"] = idURL, str("Username"), str("Name")
			common["given_name"], common["family_name"], common["zoneinfo"] = str("FirstName"), str("LastName"), "GMT"
			common["updated_at"] = str("LastModifiedDate")
		} else {
			common["id"], common["asserted_user"], common["username"] = idURL, true, str("Username")
			common["display_name"], common["first_name"], common["last_name"] = str("Name"), str("FirstName"), str("LastName")
			common["nick_name"], common["timezone"] = str("Username"), "GMT"
			common["last_modified_date"] = str("LastModifiedDate")
			common["is_lightning_login_user"] = false
		}
		writeJSON(w, http.StatusOK, common)
	}
}

// identityURL is the identity URL of a user, on the host a request reached.
func (s *Server) identityURL(r *http.Request, user string) string {
	return "http://" + r.Host + "/id/" + s.orgID + "/" + user
}
