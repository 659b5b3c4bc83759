package redact

import (
	"strings"
	"sync"
	"testing"
)

func TestRedactor(t *testing.T) {
	secrets := []string{"hunter2", "hunter2hunter2", "abc", ""}
	r := New(secrets...)
	got := r.String("login with hunter2hunter2 or hunter2, abc stays, public stays")
	if want := "login with " + Mask + " or " + Mask + ", abc stays, public stays"; got != want {
		t.Fatalf("String = %q, want %q", got, want)
	}
	if (&Redactor{}).String("x") != "x" || (*Redactor)(nil).String("x") != "x" {
		t.Fatal("a zero Redactor must not change text")
	}
	if !(&Redactor{}).Empty() || !(*Redactor)(nil).Empty() || r.Empty() || !New("ab").Empty() {
		t.Fatal("Empty is wrong")
	}
}

func TestRedactorAddKeepsLongestFirst(t *testing.T) {
	var r Redactor // the zero value is ready to use
	r.Add("hunter2-password", "ab")
	r.Add("hunter2-password-and-more", "hunter2-password")
	got := r.String("a: hunter2-password-and-more, b: hunter2-password, ab cd")
	if want := "a: " + Mask + ", b: " + Mask + ", ab cd"; got != want {
		t.Fatalf("String = %q, want %q", got, want)
	}
	if strings.Contains(got, "hunter2") {
		t.Fatalf("secret leaked: %q", got)
	}
}

func TestRedactorConcurrentReads(t *testing.T) {
	r := New("hunter2-password")
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			if r.String("x hunter2-password") != "x "+Mask {
				t.Error("not masked")
			}
		})
	}
	wg.Wait()
}

func TestValue(t *testing.T) {
	if Value("") != "" || Value("s3cr3t") != Mask {
		t.Fatal("Value")
	}
}
