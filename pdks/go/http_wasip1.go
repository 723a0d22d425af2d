//go:build wasip1

package pdk

import "fmt"

// Send performs the request through the host and returns its response.
// Statuses such as 404 are responses, not errors; a host that refuses the URL
// (not in allowed_hosts) or cannot connect ends the call with its own error.
//
//	res, err := pdk.NewHTTPRequest("GET", "https://example.com").Send()
func (r *HTTPRequest) Send() (HTTPResponse, error) {
	desc, err := r.encode()
	if err != nil {
		return HTTPResponse{}, fmt.Errorf("http request: %w", err)
	}
	// The kernel frees the request and body blocks itself.
	var body Memory
	if len(r.Body) > 0 {
		body = AllocateBytes(r.Body)
	}
	resBody := FindMemory(extismHTTPRequest(AllocateBytes(desc).offset, body.offset))
	res := HTTPResponse{Status: int(extismHTTPStatusCode()), Body: resBody.ReadBytes()}
	resBody.Free()
	headers := FindMemory(extismHTTPHeaders())
	res.Headers, err = decodeHeaders(headers.ReadBytes())
	headers.Free()
	if err != nil {
		return res, fmt.Errorf("http response headers: %w", err)
	}
	return res, nil
}
