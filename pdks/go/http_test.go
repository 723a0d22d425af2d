package pdk

import (
	"encoding/json"
	"reflect"
	"testing"
)

func TestEncodeDefaultsMethodAndHeaders(t *testing.T) {
	got, err := (&HTTPRequest{URL: "http://127.0.0.1/x"}).encode()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"url":"http://127.0.0.1/x","method":"GET","headers":{}}`
	if string(got) != want {
		t.Fatalf("encode() = %s, want %s", got, want)
	}
}

func TestEncodeKeepsHeadersAndLeavesOutBody(t *testing.T) {
	req := NewHTTPRequest("POST", "https://example.com/a?b=c&d=\"e\"").
		SetHeader("X-Conformance", "1").
		SetHeader("Content-Type", "text/plain")
	req.Body = []byte("not in the JSON")
	data, err := req.encode()
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatalf("encode() is not JSON: %v: %s", err, data)
	}
	want := map[string]any{
		"url":    `https://example.com/a?b=c&d="e"`,
		"method": "POST",
		"headers": map[string]any{
			"X-Conformance": "1",
			"Content-Type":  "text/plain",
		},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("encode() = %v, want %v", got, want)
	}
}

func TestSetHeaderOnZeroRequest(t *testing.T) {
	var req HTTPRequest
	req.SetHeader("A", "1").SetHeader("A", "2")
	if req.Headers["A"] != "2" || len(req.Headers) != 1 {
		t.Fatalf("headers = %v", req.Headers)
	}
}

func TestDecodeHeaders(t *testing.T) {
	got, err := decodeHeaders([]byte(`{"content-type":"text/plain","x-a":"1"}`))
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]string{"content-type": "text/plain", "x-a": "1"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("decodeHeaders = %v, want %v", got, want)
	}
	if got, err := decodeHeaders(nil); got != nil || err != nil {
		t.Fatalf("decodeHeaders(nil) = %v, %v", got, err)
	}
	if _, err := decodeHeaders([]byte(`[1]`)); err == nil {
		t.Fatal("decodeHeaders accepted a JSON array")
	}
}

func TestLogLevelOrderAndNames(t *testing.T) {
	levels := []LogLevel{LevelTrace, LevelDebug, LevelInfo, LevelWarn, LevelError}
	names := []string{"trace", "debug", "info", "warn", "error"}
	for i, l := range levels {
		if int(l) != i {
			t.Errorf("%s = %d, want %d (the kernel's numbering)", l, l, i)
		}
		if l.String() != names[i] {
			t.Errorf("LogLevel(%d).String() = %q, want %q", i, l.String(), names[i])
		}
	}
	if LogLevel(9).String() != "unknown" {
		t.Errorf("LogLevel(9).String() = %q", LogLevel(9).String())
	}
}
