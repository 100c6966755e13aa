// Package validate holds meshcert's admission rules as pure functions over
// parsed certificate facts and decoded objects, with no HTTP and no client.
//
// Every check produces the same Finding: a stable kebab-case rule id, the
// action the Policy assigns to it (deny or warn), the object, the data key,
// the PEM block and a message that says how to fix the problem. The webhook
// turns findings into denials and warnings, the CLI prints them, and the
// exporter's error reasons use the same ids.
package validate
