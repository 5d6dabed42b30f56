package gateway

import (
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/grpc-ecosystem/grpc-gateway/v2/utilities"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// marshalOptions write JSON as the original API did: its keys are snake_case
// (`resource_uri`, `in_use`, `total_count`), and it always shows `in_use`,
// even false, and `next`/`previous` as null at the ends.
var marshalOptions = protojson.MarshalOptions{UseProtoNames: true, EmitUnpopulated: true}

// jsonMarshaler is grpc-gateway's JSONPb with decoding errors a client can
// read: grpc-gateway answers them 400 with the error's text, and protojson's
// text quotes the offending token whole (a 10,000-digit number comes back).
type jsonMarshaler struct {
	*runtime.JSONPb
}

func newJSONMarshaler() jsonMarshaler {
	return jsonMarshaler{&runtime.JSONPb{
		MarshalOptions: marshalOptions,
		UnmarshalOptions: protojson.UnmarshalOptions{
			// The original (a Django/Tastypie service) ignored keys it did
			// not know; its SDKs may send attributes back that are output
			// only here (`resource_uri`, `in_use`).
			DiscardUnknown: true,
		},
	}}
}

// NewDecoder decodes as JSONPb does; an error becomes a short message (io.EOF,
// an empty body, stays itself: the generated handlers accept it).
func (m jsonMarshaler) NewDecoder(r io.Reader) runtime.Decoder {
	d := m.JSONPb.NewDecoder(r)
	return runtime.DecoderFunc(func(v any) error {
		err := d.Decode(v)
		if err == nil || errors.Is(err, io.EOF) {
			return err
		}
		return fmt.Errorf("the request body is not valid JSON for this request: %s",
			shortMessage(strings.TrimPrefix(err.Error(), "proto: ")))
	})
}

// queryParser is grpc-gateway's query parser with errors a client can read:
// its text names Go functions ("strconv.ParseInt: ") and repeats every value
// of a parameter given twice.
type queryParser struct {
	runtime.DefaultQueryParser
}

func (p *queryParser) Parse(msg proto.Message, values url.Values, filter *utilities.DoubleArray) error {
	if err := p.DefaultQueryParser.Parse(msg, values, filter); err != nil {
		return fmt.Errorf("invalid query parameter: %s", shortMessage(err.Error()))
	}
	return nil
}
