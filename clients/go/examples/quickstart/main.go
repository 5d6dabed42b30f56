// Command quickstart is the README's example: it connects to an extrepo
// server with Basic credentials, registers, reads, lists, updates and removes
// an external repository, then shows a NOT_FOUND and an INVALID_ARGUMENT's
// field violations.
//
//	EXTREPO_USERNAME=alice EXTREPO_API_KEY=ek_... go run ./examples/quickstart
package main

import (
	"cmp"
	"context"
	"fmt"
	"log"
	"os"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	extrepo "github.com/extrepo/extrepo/clients/go"
	extrepov1 "github.com/extrepo/extrepo/clients/go/extrepo/v1"
)

func main() {
	// Plaintext, as `extrepo-server serve` listens; add extrepo.WithTLS(nil)
	// or extrepo.WithCAFile("ca.pem") for a server behind TLS.
	client, err := extrepo.Dial(cmp.Or(os.Getenv("EXTREPO_ADDRESS"), extrepo.DefaultAddress),
		extrepo.WithBasicAuth(os.Getenv("EXTREPO_USERNAME"), os.Getenv("EXTREPO_API_KEY")))
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	const name = "registry.local/user1/image1"
	created, err := client.Create(ctx, &extrepov1.CreateRequest{
		Name: name, Username: "username", Password: "password",
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("created", created.GetRepository().GetResourceUri())

	got, err := client.Get(ctx, &extrepov1.GetRequest{Name: name})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("in use:", got.GetRepository().GetInUse())

	// Every repository on registry.local, page after page.
	for repo, err := range extrepo.ListAll(ctx, client, &extrepov1.ListRequest{Registry: "registry.local"}) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println("on registry.local:", repo.GetName())
	}

	// Update sends only the fields that change (proto3 optional).
	if _, err := client.Update(ctx, &extrepov1.UpdateRequest{
		Name: name, Password: proto.String("new password"),
	}); err != nil {
		log.Fatal(err)
	}
	fmt.Println("password changed")

	if _, err := client.Delete(ctx, &extrepov1.DeleteRequest{Name: name}); err != nil {
		log.Fatal(err)
	}
	fmt.Println("deleted")

	_, err = client.Get(ctx, &extrepov1.GetRequest{Name: name})
	if status.Code(err) != codes.NotFound {
		log.Fatalf("expected NOT_FOUND, got %v", err)
	}
	fmt.Println("gone:", status.Convert(err).Message())

	// A request with mistakes: each wrong field is named.
	_, err = client.Create(ctx, &extrepov1.CreateRequest{Name: "ubuntu:latest"})
	for _, v := range extrepo.FieldViolations(err) {
		fmt.Printf("invalid %s: %s\n", v.GetField(), v.GetDescription())
	}
}
