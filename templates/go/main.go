// The plugin's exports. Each is a `func() int32` marked `//go:wasmexport NAME`; write its body
// as an ordinary `func() error` and let pdk.Return turn the error into the call's error message.
// The API is package pdk, the Go PDK.
package main

import (
	"encoding/json"
	"errors"
	"fmt"

	"extism-platform.dev/pdk"
)

type greetInput struct {
	Name *string `json:"name"` // a pointer, to tell a missing name from an empty one
}

type greetOutput struct {
	Greeting string `json:"greeting"`
}

// greet turns {"name": "Ada"} into {"greeting": "Hello, Ada!"}.
//
//go:wasmexport greet
func greet() int32 {
	return pdk.Return(greetJSON())
}

func greetJSON() error {
	var in greetInput
	if err := pdk.InputJSON(&in); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) && typeErr.Field == "name" {
			return errors.New(`greet: "name" must be a string`)
		}
		return fmt.Errorf("greet: the input is not a JSON object (%w)", err)
	}
	if in.Name == nil {
		return errors.New(`greet: missing "name" (a string)`)
	}
	return pdk.OutputJSON(greetOutput{Greeting: "Hello, " + *in.Name + "!"})
}

func main() {} // required by Go, never run: the host calls the exports
