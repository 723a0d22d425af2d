package pdk

import "encoding/json"

// HTTPRequest is an HTTP request the host performs for the plugin. The host
// only allows the hosts listed in the manifest's allowed_hosts; any other
// URL fails the whole call.
type HTTPRequest struct {
	Method  string            // "GET" when empty
	URL     string            // absolute http:// or https:// URL
	Headers map[string]string // request headers, one value each
	Body    []byte            // sent when non-empty
}

// HTTPResponse is the host's answer to an HTTPRequest.
type HTTPResponse struct {
	Status  int               // HTTP status code, e.g. 200
	Body    []byte            // the whole response body
	Headers map[string]string // response headers; nil unless the host shares them
}

// NewHTTPRequest returns a request with the given method and URL and no headers.
//
//	req := pdk.NewHTTPRequest("POST", "https://example.com/items")
func NewHTTPRequest(method, url string) *HTTPRequest {
	return &HTTPRequest{Method: method, URL: url, Headers: map[string]string{}}
}

// SetHeader sets one request header and returns r, for chaining.
//
//	req.SetHeader("Content-Type", "application/json")
func (r *HTTPRequest) SetHeader(name, value string) *HTTPRequest {
	if r.Headers == nil {
		r.Headers = map[string]string{}
	}
	r.Headers[name] = value
	return r
}

// kernelRequest is the JSON document the kernel's http_request expects.
type kernelRequest struct {
	URL     string            `json:"url"`
	Method  string            `json:"method"`
	Headers map[string]string `json:"headers"`
}

// encode returns the request's JSON description for the kernel (the body
// travels in a block of its own).
func (r *HTTPRequest) encode() ([]byte, error) {
	method := r.Method
	if method == "" {
		method = "GET"
	}
	headers := r.Headers
	if headers == nil {
		headers = map[string]string{}
	}
	return json.Marshal(kernelRequest{URL: r.URL, Method: method, Headers: headers})
}

// decodeHeaders parses the kernel's response-header document, a JSON object
// of strings; empty input means the host shared no headers.
func decodeHeaders(data []byte) (map[string]string, error) {
	if len(data) == 0 {
		return nil, nil
	}
	var headers map[string]string
	if err := json.Unmarshal(data, &headers); err != nil {
		return nil, err
	}
	return headers, nil
}
