// Command quickstart is the README's example: it connects to an extrepo
// server with Basic credentials and registers, reads, lists, updates and
// removes an external repository, then shows a NOT_FOUND.
//
//	EXTREPO_ADDRESS=127.0.0.1:50051 EXTREPO_USERNAME=alice EXTREPO_API_KEY=ek_... \
//	  go run ./examples/quickstart
package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/extrepo/extrepo/clients/go/basicauth"
	extrepov1 "github.com/extrepo/extrepo/clients/go/extrepo/v1"
)

func main() {
	conn, err := grpc.NewClient(os.Getenv("EXTREPO_ADDRESS"),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithPerRPCCredentials(basicauth.New(os.Getenv("EXTREPO_USERNAME"), os.Getenv("EXTREPO_API_KEY"))),
	)
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	client := extrepov1.NewRepositoryServiceClient(conn)
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

	page, err := client.List(ctx, &extrepov1.ListRequest{Registry: "registry.local"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("on registry.local:", page.GetMeta().GetTotalCount())

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
	if status.Code(err) == codes.NotFound {
		fmt.Println("gone:", status.Convert(err).Message())
	} else {
		log.Fatalf("expected NOT_FOUND, got %v", err)
	}
}
