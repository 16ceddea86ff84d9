package genesys_test

import (
	"fmt"

	"github.com/logkeeper/logkeeper/export/genesys"
)

func ExampleParseAuditFilters() {
	fs, err := genesys.ParseAuditFilters("Action=Delete&EntityType=Flow&EntityId=a%26b")
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, f := range fs {
		fmt.Printf("%s = %s\n", f.Property, f.Value)
	}
	_, err = genesys.ParseAuditFilters("Action")
	fmt.Println(err)
	// Output:
	// Action = Delete
	// EntityType = Flow
	// EntityId = a&b
	// audit filter 1: want PROPERTY=VALUE, got "Action"
}
